/**
 * The one file that imports `minio`: adapts minio-js to the `ObjectClient` port.
 *
 * Writes do not go through `putObject`: it buffers and MD5-hashes bodies up to its part size, and
 * above that it resumes *any* earlier incomplete upload of the same key (two racing writers could
 * mix parts) and cannot make the final CompleteMultipartUpload conditional. Instead a body up to
 * `multipartThresholdBytes` goes as one streamed PUT, and a larger one as our own multipart upload
 * (multipart-upload.ts: parallel parts, views not copies) whose Complete carries `If-None-Match: *`;
 * MinIO honours that header on both, so a create-only write never overwrites (see
 * test/integration/checkpoint-store.test.ts).
 *
 * Payloads are signed as UNSIGNED-PAYLOAD over TLS and to a loopback endpoint (nothing on the way
 * to tamper with, and hashing every part again would cost what our own SHA-256 already did); a
 * single PUT then carries our SHA-256 as `x-amz-checksum-sha256`, which the server checks. Plain
 * HTTP to another host keeps signed payload hashes.
 *
 * minio-js never resends a request here (`retryOptions.disableRetry`): its resend reuses the body
 * object, and a streamed body is consumed by the first try. A call answered with a server error
 * (HTTP 500, 503…) is sent again by `resending` (server-errors.ts) with its body built afresh from the
 * caller's chunks, and fails promptly with `S3ServerError` when the store keeps answering so.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { Readable } from 'node:stream';
import * as Minio from 'minio';
import { DEFAULT_DEADLINE, scopedTransport } from './deadline';
import type { DeadlinePolicy } from './deadline';
import { withDeadlines } from './deadline-client';
import { hashChunks } from './hash-worker';
import { bodyOf, partsOfChunks, partsOfStream, readAll, uploadMultipart } from './multipart-upload';
import { bodyChunks, ObjectExistsError, ObjectNotFoundError, ObjectRangeError } from './object-client';
import { s3ErrorCode, withAccessErrors } from './s3-error-codes';
import { readingServerErrors, resending, S3ServerError } from './server-errors';
import { incompleteUploads, journaledUploads } from './upload-journal';
import type { ObjectClient, ObjectStat, PutBody, PutOptions, RangeRead } from './object-client';

export { s3ErrorCode } from './s3-error-codes';

export interface MinioConnection {
  /** e.g. `http://127.0.0.1:9000` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
  /** PEM CA certificate(s) to trust for an `https://` endpoint, besides the system's (a local CA). */
  ca?: string;
}

export interface MinioAdapterOptions {
  /** Bodies larger than this (or of unknown size) are uploaded in parts. @default 64 MiB */
  multipartThresholdBytes?: number;
  /** Part size of multipart uploads; S3 requires at least 5 MiB. @default 16 MiB */
  partSizeBytes?: number;
  /** Deadline of each call, scaled by its size (deadline.ts). @default DEFAULT_DEADLINE (20 s + 1 s/MiB) */
  deadline?: DeadlinePolicy;
}

type Headers = Record<string, string>;

/**
 * Creates an `ObjectClient` for one bucket on an S3-compatible endpoint; every call has a deadline
 * (deadline-client.ts), enforced on its requests through the client's transport.
 */
export function createMinioObjectClient(
  connection: MinioConnection,
  options: MinioAdapterOptions = {},
): ObjectClient {
  const client = connect(connection);
  if (isLoopback(connection.endpoint)) client.enableSHA256 = false; // UNSIGNED-PAYLOAD, see above
  const { bucket, region } = connection;
  const threshold = options.multipartThresholdBytes ?? 64 * 1024 * 1024;
  const partSize = Math.max(options.partSizeBytes ?? 16 * 1024 * 1024, 5 * 1024 * 1024);
  const deadline = options.deadline ?? DEFAULT_DEADLINE;

  /** Sends one request per try, the call's retries of server errors included (server-errors.ts). */
  const resend = <T>(operation: string, key: string, send: () => Promise<T>) =>
    resending({ operation, key }, send);

  async function putSingle(key: string, body: PutBody, size: number, options: PutOptions, headers: Headers) {
    let chunks = bodyChunks(body);
    let signedHash = '';
    if (client.enableSHA256) {
      // Plain HTTP: the payload hash is part of the signature, so the server verifies our bytes.
      if (!chunks && !options.sha256) chunks = [await readAll(body as Readable)];
      signedHash = options.sha256 ?? (await hashChunks(chunks ?? []));
    } else if (options.sha256) {
      headers['x-amz-checksum-sha256'] = Buffer.from(options.sha256, 'hex').toString('base64');
    }
    const request = {
      method: 'PUT',
      bucketName: bucket,
      objectName: key,
      headers: { ...headers, 'Content-Length': String(size) },
    };
    const send = async () => {
      // A fresh body each try: a stream over the chunks is consumed by the try that sent it.
      const payload = chunks ? bodyOf(chunks) : (body as Readable);
      const res = await client.makeRequestStreamAsync(request, payload, signedHash, [200], region);
      res.resume();
    };
    await resending({ operation: 'PUT', key }, send, {
      tries: chunks ? undefined : 1, // a caller's stream can be sent only once
      // "It exists" after a 500 is no proof of another writer (ObjectExistsError, permanent).
      resendFailure: { matches: isPreconditionFailed, detail: RESENT_CREATE },
    });
  }

  const objects: ObjectClient = {
    bucket,
    bucketExists: () => resend('bucket check', bucket, () => client.bucketExists(bucket)),
    makeBucket: () => resend('bucket create', bucket, () => client.makeBucket(bucket, region)),
    async put(key: string, body: PutBody, options: PutOptions = {}) {
      const headers: Headers = prefixMetadata(options.metadata ?? {});
      const chunks = bodyChunks(body);
      const size = chunks ? chunks.reduce((n, c) => n + c.byteLength, 0) : options.size;
      try {
        if (size !== undefined && size <= threshold) {
          if (options.ifNoneMatch) headers['If-None-Match'] = '*';
          await putSingle(key, body, size, options, headers);
        } else {
          const parts = chunks ? partsOfChunks(chunks, partSize) : partsOfStream(body as Readable, partSize);
          const ifNoneMatch = options.ifNoneMatch ?? false;
          const target = { client, bucket, region, key, headers, ifNoneMatch, deadline };
          await uploadMultipart(target, parts);
        }
      } catch (err) {
        if (err instanceof S3ServerError) throw err; // its cause may be a precondition failure
        if (isPreconditionFailed(err)) throw new ObjectExistsError(key);
        throw err;
      }
    },
    async get(key: string) {
      try {
        return await resend('GET', key, () => client.getObject(bucket, key));
      } catch (err) {
        if (isNotFound(err)) throw new ObjectNotFoundError(key);
        throw err;
      }
    },
    async getRange(key: string, offset: number, length: number): Promise<RangeRead> {
      const range = `bytes=${offset}-${offset + length - 1}`;
      try {
        const request = { method: 'GET', bucketName: bucket, objectName: key, headers: { Range: range } };
        const body = await resend('ranged GET', key, () =>
          client.makeRequestAsync(request, '', [206], region),
        );
        const total = /\/(\d+)$/.exec(String(body.headers['content-range']))?.[1];
        if (total === undefined) throw new Error(`GET ${key} ${range}: no Content-Range in the reply`);
        return { body, objectSize: Number(total) };
      } catch (err) {
        if (isNotFound(err)) throw new ObjectNotFoundError(key);
        if (s3ErrorCode(err) === 'InvalidRange') throw new ObjectRangeError(key, offset);
        throw err;
      }
    },
    async stat(key: string): Promise<ObjectStat | undefined> {
      try {
        const s = await resend('HEAD', key, () => client.statObject(bucket, key));
        return { key, size: s.size, lastModified: s.lastModified, metadata: lowerKeys(s.metaData ?? {}) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    remove: (key: string) => resend('DELETE', key, () => client.removeObject(bucket, key)),
    async listIncompleteUploads(prefix: string): Promise<string[]> {
      const out: string[] = [];
      for (const { key } of await listJournal(prefix)) {
        for (const u of await listUploads(key)) if (u.key === key) out.push(key);
      }
      return [...new Set(out)].sort();
    },
    async abortIncompleteUploads(prefix: string, options: { except?: readonly string[] } = {}) {
      let aborted = 0;
      for (const u of await listJournal(prefix)) {
        if (options.except?.includes(u.journal)) continue; // another writer's, still in flight
        const live = await listUploads(u.key);
        if (live.some((l) => l.uploadId === u.uploadId)) {
          await resend('abort upload', u.key, () => client.abortMultipartUpload(bucket, u.key, u.uploadId));
          aborted++;
        }
        await resend('DELETE upload journal', u.journal, () => client.removeObject(bucket, u.journal));
      }
      return aborted;
    },
    async list(prefix: string, options: { recursive?: boolean } = {}): Promise<ObjectStat[]> {
      // A failed page starts the listing over (a later page's token may not outlive the error).
      return resend('LIST', prefix, async () => {
        const out: ObjectStat[] = [];
        // Non-recursive listings also yield common prefixes (no `name`): skipped below.
        for await (const item of client.listObjectsV2(bucket, prefix, options.recursive !== false)) {
          const entry = item as { name?: string; size?: number; lastModified?: Date };
          if (entry.name) {
            out.push({
              key: entry.name,
              size: entry.size ?? 0,
              lastModified: entry.lastModified ?? new Date(0),
              metadata: {},
            });
          }
        }
        return out;
      });
    },
  };
  const listJournal = (prefix: string) =>
    resend('LIST upload journal', prefix, () => journaledUploads(client, bucket, prefix));
  const listUploads = (key: string) =>
    resend('LIST uploads', key, () => incompleteUploads(client, bucket, key));
  // A refused caller rejects with ObjectAccessDeniedError: no S3 code leaves src/storage.
  return withDeadlines(withAccessErrors(objects), deadline);
}

/** Where and as whom a MinIO client connects, and nothing else (tests make plain clients of it). */
export function minioAddress(connection: MinioConnection) {
  const url = new URL(connection.endpoint);
  const useSSL = url.protocol === 'https:';
  return {
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: connection.accessKey,
    secretKey: connection.secretKey,
    region: connection.region,
  };
}

function connect(connection: MinioConnection): Minio.Client {
  const address = minioAddress(connection);
  const { useSSL } = address;
  return new Minio.Client({
    ...address,
    // Calls' deadlines reach their requests; server-error answers are read and named (server-errors.ts).
    transport: readingServerErrors(scopedTransport(useSSL ? https : http)),
    retryOptions: { disableRetry: true }, // see the file comment: `resending` retries instead
    ...(useSSL && connection.ca
      ? { transportAgent: new https.Agent({ ca: [...tls.rootCertificates, connection.ca], keepAlive: true }) }
      : {}),
  });
}

function isLoopback(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function prefixMetadata(metadata: Record<string, string>): Headers {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k.toLowerCase()}`, v]));
}

function lowerKeys(metadata: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).map(([k, v]) => [k.toLowerCase().replace(/^x-amz-meta-/, ''), String(v)]),
  );
}

function isNotFound(err: unknown): boolean {
  const code = s3ErrorCode(err);
  return code === 'NotFound' || code === 'NoSuchKey';
}

/**
 * A create-only PUT answered with a server error, then sent again, found its object there: the
 * first try may have stored it before failing, so this is no proof of another writer.
 */
const RESENT_CREATE = 'sent again, it found the object already there (the first try may have stored it)';

function isPreconditionFailed(err: unknown): boolean {
  const code = s3ErrorCode(err);
  return (
    code === 'PreconditionFailed' || code === 'At least one of the pre-conditions you specified did not hold'
  );
}

/** Plain minio-js `putObject` / `getObject`, as the baseline that `bench/checkpoint-io.ts` measures against. */
export function createRawMinioBaseline(connection: MinioConnection) {
  const client = connect(connection);
  return {
    putObject: async (key: string, body: Buffer) => {
      await client.putObject(connection.bucket, key, body, body.length);
    },
    getObject: async (key: string) => readAll(await client.getObject(connection.bucket, key)),
    removeObject: (key: string) => client.removeObject(connection.bucket, key),
  };
}
