/**
 * The narrow port in front of S3/MinIO. Only `minio-adapter.ts` imports `minio`; everything else
 * (the checkpoint store, the stack manager, tests) talks to this interface, and unit tests use the
 * in-memory fake.
 */
import type { Readable } from 'node:stream';

export interface ObjectStat {
  key: string;
  size: number;
  lastModified: Date;
  /** User metadata, keys lower-cased without the `x-amz-meta-` prefix. */
  metadata: Record<string, string>;
}

export interface PutOptions {
  /** User metadata stored with the object. */
  metadata?: Record<string, string>;
  /** Fail with `ObjectExistsError` instead of overwriting (S3 conditional PUT, `If-None-Match: *`). */
  ifNoneMatch?: boolean;
  /** Size in bytes when known (streams of unknown length are uploaded in parts). */
  size?: number;
}

export interface ObjectClient {
  readonly bucket: string;
  bucketExists(): Promise<boolean>;
  makeBucket(): Promise<void>;
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<void>;
  get(key: string): Promise<Readable>;
  stat(key: string): Promise<ObjectStat | undefined>;
  remove(key: string): Promise<void>;
  list(prefix: string): Promise<ObjectStat[]>;
}

/** The object already exists and the write was create-only. */
export class ObjectExistsError extends Error {
  override readonly name = 'ObjectExistsError';
  constructor(readonly key: string) {
    super(`object "${key}" already exists; checkpoint keys are never reused`);
  }
}
