/**
 * Our own S3 multipart upload (minio-js's cannot make CompleteMultipartUpload conditional, see
 * minio-adapter.ts): parts go up a few at a time, each a list of views into the caller's chunks (no
 * concatenation); the Complete carries `If-None-Match: *` for a create-only write. A journal entry
 * written before the first part lets a killed writer's parts be found and aborted (upload-journal.ts);
 * on any failure the upload is aborted only after every part in flight has settled, so no part lands
 * in an upload that is already gone. A part answered with a server error is sent again with a fresh
 * body over its views (server-errors.ts); the Complete is not (a resend after a Complete that the
 * store carried out would fail as if another writer had won).
 */
import { Readable } from 'node:stream';
import type * as Minio from 'minio';
import { currentScope, deadlineMs, inScope, outsideScopes, S3DeadlineError, withDeadline } from './deadline';
import type { DeadlinePolicy } from './deadline';
import { hashChunks } from './hash-worker';
import { resending } from './server-errors';
import { journalKey } from './upload-journal';

/** Parts uploaded at the same time. */
export const PART_CONCURRENCY = 4;

type Headers = Record<string, string>;

export interface MultipartTarget {
  client: Minio.Client;
  bucket: string;
  region: string;
  key: string;
  /** Object metadata and other headers of the Initiate request. */
  headers: Headers;
  ifNoneMatch: boolean;
  /** Each part's deadline is scaled by the part's size. */
  deadline: DeadlinePolicy;
}

/**
 * Uploads `parts` (each a list of chunks) as one object; see the file comment. Each call has its own
 * deadline (a part's scaled by its size, the Complete's by the object's), so a body of unknown size
 * needs no deadline of the whole.
 */
export function uploadMultipart(target: MultipartTarget, parts: AsyncIterable<Uint8Array[]>) {
  return inScope(() => upload(target, parts));
}

async function upload(target: MultipartTarget, parts: AsyncIterable<Uint8Array[]>) {
  const { client, bucket, key } = target;
  const call = <T>(operation: string, fn: () => Promise<T>, bytes = 0) =>
    withDeadline(deadlineMs(target.deadline, bytes), { operation, key }, fn);
  const resend = <T>(operation: string, fn: () => Promise<T>, on = key) =>
    resending({ operation, key: on }, fn);
  const uploadId = await call('initiate upload', () =>
    resend('initiate upload', () => client.initiateNewMultipartUpload(bucket, key, target.headers)),
  );
  const journal = journalKey(key, uploadId);
  const cleanup = async () => {
    await resend('abort upload', () => client.abortMultipartUpload(bucket, key, uploadId)).catch(
      () => undefined,
    );
    // Stale-upload expiry covers a failure here.
    await resend('DELETE upload journal', () => client.removeObject(bucket, journal), journal).catch(
      () => undefined,
    );
  };
  try {
    // Before any part: a killed writer's parts can then be found and aborted by prefix.
    const entry = Buffer.from(JSON.stringify({ key, uploadId }));
    await call('PUT upload journal', () => putBuffer(target, journal, entry));
    const uploader = partUploader(target, uploadId);
    const etags = await uploadParts(parts, uploader.upload);
    await call('complete upload', () => complete(target, uploadId, etags), uploader.bytes());
  } catch (err) {
    if (!(err instanceof S3DeadlineError)) await call('abort upload', cleanup).catch(() => undefined);
    // A hung store: the caller must not wait on it again; clean up in the background, under a
    // deadline of its own (MinIO's stale-upload expiry covers a cleanup that fails too).
    else void cleanUpLater(deadlineMs(target.deadline), key, cleanup);
    throw err;
  }
  await call('DELETE upload journal', () =>
    resend('DELETE upload journal', () => client.removeObject(bucket, journal), journal),
  ).catch(() => undefined);
}

function cleanUpLater(ms: number, key: string, cleanup: () => Promise<void>): Promise<void> {
  return outsideScopes(() => withDeadline(ms, { operation: 'abort', key }, cleanup)).catch(() => undefined);
}

/**
 * One part under its own deadline (scaled by its size). A part past it closes the connections of
 * every other part in flight too (the upload's scope), so the upload fails at once, not one
 * deadline per part later.
 */
function partUploader(target: MultipartTarget, uploadId: string) {
  const scope = currentScope();
  let total = 0;
  const upload = async (n: number, views: Uint8Array[]) => {
    const size = views.reduce((sum, v) => sum + v.byteLength, 0);
    total += size;
    const ms = deadlineMs(target.deadline, size);
    try {
      return await withDeadline(ms, { operation: `PUT part ${n}`, key: target.key }, () =>
        putPart(target, uploadId, n, views),
      );
    } catch (err) {
      if (err instanceof S3DeadlineError) scope?.destroy(err);
      throw err;
    }
  };
  return { upload, bytes: () => total };
}

/**
 * Runs `upload` for each part, at most `PART_CONCURRENCY` at once; returns the ETags in part order.
 * The first failure stops new parts; the others in flight are awaited before it is thrown.
 */
export async function uploadParts(
  parts: AsyncIterable<Uint8Array[]>,
  upload: (partNumber: number, views: Uint8Array[]) => Promise<string>,
  concurrency = PART_CONCURRENCY,
): Promise<string[]> {
  const etags: string[] = [];
  const running = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  try {
    let n = 0;
    for await (const views of parts) {
      if (failure) break;
      const partNumber = ++n;
      const task: Promise<void> = upload(partNumber, views)
        .then((etag) => void (etags[partNumber - 1] = etag))
        .catch((error: unknown) => void (failure ??= { error }))
        .finally(() => running.delete(task));
      running.add(task);
      if (running.size >= concurrency) await Promise.race(running);
    }
  } catch (error) {
    failure ??= { error }; // the body stream failed
  }
  await Promise.all(running);
  if (failure) throw failure.error;
  return etags;
}

async function putPart(target: MultipartTarget, uploadId: string, n: number, views: Uint8Array[]) {
  const { client, bucket, key, region } = target;
  const size = views.reduce((sum, v) => sum + v.byteLength, 0);
  // Plain HTTP to a remote host signs each part's hash (computed off the event loop); TLS and
  // loopback send UNSIGNED-PAYLOAD and our whole-object SHA-256 stays the integrity check.
  const sha256 = client.enableSHA256 ? await hashChunks(views) : '';
  const request = {
    method: 'PUT',
    bucketName: bucket,
    objectName: key,
    query: `partNumber=${n}&uploadId=${encodeURIComponent(uploadId)}`,
    headers: { 'Content-Length': String(size) },
  };
  // A fresh body each try: a stream over the views is consumed by the try that sent it.
  const res = await resending({ operation: `PUT part ${n}`, key }, () =>
    client.makeRequestStreamAsync(request, bodyOf(views), sha256, [200], region),
  );
  res.resume();
  return String(res.headers.etag);
}

async function complete(target: MultipartTarget, uploadId: string, etags: string[]) {
  const { client, bucket, key } = target;
  const parts = etags.map((etag, i) => `<Part><PartNumber>${i + 1}</PartNumber><ETag>${etag}</ETag></Part>`);
  const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</CompleteMultipartUpload>`;
  const request = {
    method: 'POST',
    bucketName: bucket,
    objectName: key,
    query: `uploadId=${encodeURIComponent(uploadId)}`,
    headers: target.ifNoneMatch ? { 'If-None-Match': '*' } : {},
  };
  // Sent once (see the file comment); a server error still fails it at once, as S3ServerError.
  const res = await resending(
    { operation: 'complete upload', key },
    () => client.makeRequestAsync(request, xml),
    {
      tries: 1,
    },
  );
  const reply = (await readAll(res)).toString('utf8');
  // S3 may answer 200 and still report an error in the body.
  if (reply.includes('<Error>')) throw new Error(`CompleteMultipartUpload of "${key}" failed: ${reply}`);
}

/** A small single PUT (the journal entry). */
async function putBuffer(target: MultipartTarget, key: string, body: Buffer) {
  const { client, bucket, region } = target;
  const sha256 = client.enableSHA256 ? await hashChunks([body]) : '';
  const headers = { 'Content-Length': String(body.length) };
  const request = { method: 'PUT', bucketName: bucket, objectName: key, headers };
  const res = await resending({ operation: 'PUT', key }, () =>
    client.makeRequestStreamAsync(request, body, sha256, [200], region),
  );
  res.resume();
}

/** A request body over views: one buffer when the part lies in one chunk, else a stream of them. */
export function bodyOf(views: readonly Uint8Array[]): Buffer | Readable {
  const buffers = views.map((v) => Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  if (buffers.length === 1 && buffers[0]) return buffers[0];
  return Readable.from(buffers, { objectMode: false });
}

/** Splits chunks into parts of exactly `size` bytes (the last one shorter), as views. */
export async function* partsOfChunks(
  chunks: readonly Uint8Array[],
  size: number,
): AsyncGenerator<Uint8Array[]> {
  let part: Uint8Array[] = [];
  let partBytes = 0;
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.byteLength;) {
      const take = Math.min(size - partBytes, chunk.byteLength - at);
      part.push(chunk.subarray(at, at + take));
      partBytes += take;
      at += take;
      if (partBytes === size) {
        yield part;
        part = [];
        partBytes = 0;
      }
    }
  }
  if (partBytes > 0) yield part;
}

/** Re-chunks a stream into parts of exactly `size` bytes (the last one shorter). */
export async function* partsOfStream(body: Readable, size: number): AsyncGenerator<Uint8Array[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    while (pendingBytes + buf.length >= size) {
      const take = size - pendingBytes;
      yield [...pending, buf.subarray(0, take)];
      buf = buf.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (buf.length > 0) {
      pending.push(buf);
      pendingBytes += buf.length;
    }
  }
  if (pendingBytes > 0) yield pending;
}

export async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
