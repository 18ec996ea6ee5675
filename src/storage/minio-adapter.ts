/**
 * The one file that imports `minio`: adapts minio-js to the `ObjectClient` port.
 *
 * Writes do not go through `putObject`: it buffers and MD5-hashes bodies up to its part size, and
 * above that it resumes *any* earlier incomplete upload of the same key (two racing writers could
 * mix parts) and cannot make the final CompleteMultipartUpload conditional. Instead a body up to
 * `multipartThresholdBytes` goes as one streamed PUT, and a larger one as our own multipart upload
 * whose Complete carries `If-None-Match: *`; MinIO honours that header on both, so a create-only
 * write never overwrites (see test/integration/checkpoint-store.test.ts).
 */
import { createHash } from 'node:crypto';
import https from 'node:https';
import tls from 'node:tls';
import { Readable } from 'node:stream';
import * as Minio from 'minio';
import { ObjectExistsError, ObjectNotFoundError } from './object-client';
import { incompleteUploads, journaledUploads, journalKey } from './upload-journal';
import type { ObjectClient, ObjectStat, PutOptions } from './object-client';

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
}

type Headers = Record<string, string>;

/** Creates an `ObjectClient` for one bucket on an S3-compatible endpoint. */
export function createMinioObjectClient(
  connection: MinioConnection,
  options: MinioAdapterOptions = {},
): ObjectClient {
  const client = connect(connection);
  const { bucket, region } = connection;
  const threshold = options.multipartThresholdBytes ?? 64 * 1024 * 1024;
  const partSize = Math.max(options.partSizeBytes ?? 16 * 1024 * 1024, 5 * 1024 * 1024);

  async function putSingle(
    key: string,
    body: Buffer | Readable,
    size: number,
    sha256: string | undefined,
    headers: Headers,
  ) {
    let payload = body;
    let signedHash = '';
    if (client.enableSHA256) {
      // Plain HTTP: the payload hash is part of the signature, so the server verifies our bytes.
      if (!sha256) payload = Buffer.isBuffer(body) ? body : await readAll(body);
      signedHash =
        sha256 ??
        createHash('sha256')
          .update(payload as Buffer)
          .digest('hex');
    }
    const request = {
      method: 'PUT',
      bucketName: bucket,
      objectName: key,
      headers: { ...headers, 'Content-Length': String(size) },
    };
    const res = await client.makeRequestStreamAsync(request, payload, signedHash, [200], region);
    res.resume();
  }

  async function putSmall(key: string, body: Buffer) {
    const res = await client.makeRequestStreamAsync(
      {
        method: 'PUT',
        bucketName: bucket,
        objectName: key,
        headers: { 'Content-Length': String(body.length) },
      },
      body,
      client.enableSHA256 ? createHash('sha256').update(body).digest('hex') : '',
      [200],
      region,
    );
    res.resume();
  }

  async function putMultipart(key: string, body: Readable, headers: Headers, ifNoneMatch: boolean) {
    const uploadId = await client.initiateNewMultipartUpload(bucket, key, headers);
    const query = (extra: string) => `${extra}uploadId=${encodeURIComponent(uploadId)}`;
    const journal = journalKey(key, uploadId);
    try {
      // Before any part: a killed writer's parts can then be found and aborted by prefix (below).
      await putSmall(journal, Buffer.from(JSON.stringify({ key, uploadId })));
      const parts: string[] = [];
      for await (const part of chunksOf(body, partSize)) {
        const n = parts.length + 1;
        const res = await client.makeRequestAsync(
          { method: 'PUT', bucketName: bucket, objectName: key, query: query(`partNumber=${n}&`) },
          part,
        );
        res.resume();
        parts.push(`<Part><PartNumber>${n}</PartNumber><ETag>${String(res.headers.etag)}</ETag></Part>`);
      }
      const xml = `<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${parts.join('')}</CompleteMultipartUpload>`;
      const completeHeaders: Headers = ifNoneMatch ? { 'If-None-Match': '*' } : {};
      const res = await client.makeRequestAsync(
        { method: 'POST', bucketName: bucket, objectName: key, query: query(''), headers: completeHeaders },
        xml,
      );
      const reply = (await readAll(res)).toString('utf8');
      // S3 may answer 200 and still report an error in the body.
      if (reply.includes('<Error>')) throw new Error(`CompleteMultipartUpload of "${key}" failed: ${reply}`);
    } catch (err) {
      await client.abortMultipartUpload(bucket, key, uploadId).catch(() => undefined);
      throw err;
    } finally {
      await client.removeObject(bucket, journal).catch(() => undefined); // expiry covers a failure here
    }
  }

  return {
    bucket,
    bucketExists: () => client.bucketExists(bucket),
    makeBucket: () => client.makeBucket(bucket, region),
    async put(key: string, body: Buffer | Readable, options: PutOptions = {}) {
      const headers: Headers = prefixMetadata(options.metadata ?? {});
      const size = Buffer.isBuffer(body) ? body.length : options.size;
      try {
        if (size !== undefined && size <= threshold) {
          if (options.ifNoneMatch) headers['If-None-Match'] = '*';
          await putSingle(key, body, size, options.sha256, headers);
        } else {
          const stream = Buffer.isBuffer(body) ? Readable.from([body]) : body;
          await putMultipart(key, stream, headers, options.ifNoneMatch ?? false);
        }
      } catch (err) {
        if (isPreconditionFailed(err)) throw new ObjectExistsError(key);
        throw err;
      }
    },
    async get(key: string) {
      try {
        return await client.getObject(bucket, key);
      } catch (err) {
        if (isNotFound(err)) throw new ObjectNotFoundError(key);
        throw err;
      }
    },
    async stat(key: string): Promise<ObjectStat | undefined> {
      try {
        const s = await client.statObject(bucket, key);
        return { key, size: s.size, lastModified: s.lastModified, metadata: lowerKeys(s.metaData ?? {}) };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    remove: (key: string) => client.removeObject(bucket, key),
    async listIncompleteUploads(prefix: string): Promise<string[]> {
      const out: string[] = [];
      for (const { key } of await journaledUploads(client, bucket, prefix)) {
        for (const u of await incompleteUploads(client, bucket, key)) if (u.key === key) out.push(key);
      }
      return [...new Set(out)].sort();
    },
    async abortIncompleteUploads(prefix: string): Promise<number> {
      let aborted = 0;
      for (const u of await journaledUploads(client, bucket, prefix)) {
        const live = await incompleteUploads(client, bucket, u.key);
        if (live.some((l) => l.uploadId === u.uploadId)) {
          await client.abortMultipartUpload(bucket, u.key, u.uploadId);
          aborted++;
        }
        await client.removeObject(bucket, u.journal);
      }
      return aborted;
    },
    async list(prefix: string, options: { recursive?: boolean } = {}): Promise<ObjectStat[]> {
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
    },
  };
}

function connect(connection: MinioConnection): Minio.Client {
  const url = new URL(connection.endpoint);
  const useSSL = url.protocol === 'https:';
  return new Minio.Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: connection.accessKey,
    secretKey: connection.secretKey,
    region: connection.region,
    ...(useSSL && connection.ca
      ? { transportAgent: new https.Agent({ ca: [...tls.rootCertificates, connection.ca], keepAlive: true }) }
      : {}),
  });
}

/** Re-chunks a stream into buffers of exactly `size` bytes (the last one shorter). */
async function* chunksOf(body: Readable, size: number): AsyncGenerator<Buffer> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  for await (const chunk of body) {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    while (pendingBytes + buf.length >= size) {
      const take = size - pendingBytes;
      yield Buffer.concat([...pending, buf.subarray(0, take)], size);
      buf = buf.subarray(take);
      pending = [];
      pendingBytes = 0;
    }
    if (buf.length > 0) {
      pending.push(buf);
      pendingBytes += buf.length;
    }
  }
  if (pendingBytes > 0) yield Buffer.concat(pending, pendingBytes);
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function prefixMetadata(metadata: Record<string, string>): Headers {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k.toLowerCase()}`, v]));
}

function lowerKeys(metadata: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).map(([k, v]) => [k.toLowerCase().replace(/^x-amz-meta-/, ''), String(v)]),
  );
}

/** The S3 error code of an error (`NoSuchKey`, `AccessDenied`…), looking through `cause` chains. */
export function s3ErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (typeof e === 'object' && e !== null && 'code' in e) return String((e as { code: unknown }).code);
  }
  return undefined;
}

function isNotFound(err: unknown): boolean {
  const code = s3ErrorCode(err);
  return code === 'NotFound' || code === 'NoSuchKey';
}

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
