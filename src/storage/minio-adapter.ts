/** The one file that imports `minio`: adapts minio-js to the `ObjectClient` port. */
import * as Minio from 'minio';
import type { Readable } from 'node:stream';
import { ObjectExistsError } from './object-client';
import type { ObjectClient, ObjectStat, PutOptions } from './object-client';

export interface MinioConnection {
  /** e.g. `http://127.0.0.1:9000` */
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
  bucket: string;
}

/** Creates an `ObjectClient` for one bucket on an S3-compatible endpoint. */
export function createMinioObjectClient(connection: MinioConnection): ObjectClient {
  const url = new URL(connection.endpoint);
  const useSSL = url.protocol === 'https:';
  const client = new Minio.Client({
    endPoint: url.hostname,
    port: url.port ? Number(url.port) : useSSL ? 443 : 80,
    useSSL,
    accessKey: connection.accessKey,
    secretKey: connection.secretKey,
    region: connection.region,
  });
  const bucket = connection.bucket;

  return {
    bucket,
    bucketExists: () => client.bucketExists(bucket),
    makeBucket: () => client.makeBucket(bucket, connection.region),
    async put(key: string, body: Buffer | Readable, options: PutOptions = {}) {
      const headers: Record<string, string> = { ...prefixMetadata(options.metadata ?? {}) };
      if (options.ifNoneMatch) headers['If-None-Match'] = '*';
      try {
        await client.putObject(bucket, key, body, options.size, headers);
      } catch (err) {
        if (isPreconditionFailed(err)) throw new ObjectExistsError(key);
        throw err;
      }
    },
    get: (key: string) => client.getObject(bucket, key),
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
    async list(prefix: string): Promise<ObjectStat[]> {
      const out: ObjectStat[] = [];
      for await (const item of client.listObjectsV2(bucket, prefix, true)) {
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

function prefixMetadata(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(metadata).map(([k, v]) => [`x-amz-meta-${k.toLowerCase()}`, v]));
}

function lowerKeys(metadata: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).map(([k, v]) => [k.toLowerCase().replace(/^x-amz-meta-/, ''), String(v)]),
  );
}

function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err
    ? String((err as { code: unknown }).code)
    : undefined;
}

function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'NotFound' || code === 'NoSuchKey';
}

function isPreconditionFailed(err: unknown): boolean {
  const code = errorCode(err);
  return (
    code === 'PreconditionFailed' || code === 'At least one of the pre-conditions you specified did not hold'
  );
}
