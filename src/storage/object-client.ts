/**
 * The narrow port in front of S3/MinIO. Only `minio-adapter.ts` imports `minio`; everything else
 * (the checkpoint store, the stack manager, tests) talks to this interface, and unit tests use the
 * in-memory fake (`memory-object-client.ts`).
 */
import type { FailureKind } from '../failure-kind';
import type { Readable } from 'node:stream';

export interface ObjectStat {
  key: string;
  size: number;
  lastModified: Date;
  /** User metadata, keys lower-cased without the `x-amz-meta-` prefix (empty in `list` results). */
  metadata: Record<string, string>;
}

export interface PutOptions {
  /** User metadata stored with the object. */
  metadata?: Record<string, string>;
  /**
   * Fail with `ObjectExistsError` instead of overwriting (S3 conditional write, `If-None-Match: *`,
   * on the single PUT or on CompleteMultipartUpload). MinIO honours it; a racing writer loses.
   */
  ifNoneMatch?: boolean;
  /** Size in bytes when known (streams of unknown length are uploaded in parts). */
  size?: number;
  /**
   * Hex SHA-256 of the whole body when the caller knows it. Over plain HTTP a single PUT signs it as
   * the payload hash, so the server rejects the upload if the bytes it received differ.
   */
  sha256?: string;
}

/**
 * A body to write: one buffer, a stream, or a list of chunks sent in order without being
 * concatenated (an encoded checkpoint's header and tensor views).
 */
export type PutBody = Buffer | Readable | readonly Uint8Array[];

/** One byte range of an object, and the size of the whole object (from `Content-Range`). */
export interface RangeRead {
  body: Readable;
  objectSize: number;
}

export interface ObjectClient {
  readonly bucket: string;
  bucketExists(): Promise<boolean>;
  makeBucket(): Promise<void>;
  /** Writes an object; it becomes visible only when the whole body arrived. */
  put(key: string, body: PutBody, options?: PutOptions): Promise<void>;
  /** Reads an object; rejects with `ObjectNotFoundError` when there is none. */
  get(key: string): Promise<Readable>;
  /**
   * Reads `length` bytes from `offset` (both within the object); rejects with `ObjectNotFoundError`
   * when there is no object, and with `ObjectRangeError` when the range starts past its end.
   */
  getRange(key: string, offset: number, length: number): Promise<RangeRead>;
  stat(key: string): Promise<ObjectStat | undefined>;
  remove(key: string): Promise<void>;
  /**
   * Objects whose key starts with `prefix`: recursively, or with `recursive: false` only those with
   * no further `/` after the prefix (one "folder" level, as S3's delimiter listing).
   */
  list(prefix: string, options?: { recursive?: boolean }): Promise<ObjectStat[]>;
  /** Keys of the incomplete multipart uploads under `prefix` (one entry per upload). */
  listIncompleteUploads(prefix: string): Promise<string[]>;
  /**
   * Aborts every incomplete multipart upload under `prefix`, freeing its parts, except those whose
   * journal entry (upload-journal.ts) `except` names; returns how many.
   */
  abortIncompleteUploads(prefix: string, options?: { except?: readonly string[] }): Promise<number>;
}

/** Runs one call of an `ObjectClient`: `operation` (as S3 names it) on `key` (a key or a prefix). */
export type ObjectCall = <T>(operation: string, key: string, fn: () => Promise<T>) => Promise<T>;

/** `inner` with each of its calls run through `call`: what the client decorators share. */
export function eachCallThrough(inner: ObjectClient, call: ObjectCall): ObjectClient {
  const { bucket } = inner;
  return {
    bucket,
    bucketExists: () => call('bucket check', bucket, () => inner.bucketExists()),
    makeBucket: () => call('bucket create', bucket, () => inner.makeBucket()),
    put: (key: string, body: PutBody, options?: PutOptions) =>
      call('PUT', key, () => inner.put(key, body, options)),
    get: (key: string) => call('GET', key, () => inner.get(key)),
    getRange: (key: string, offset: number, length: number) =>
      call('ranged GET', key, () => inner.getRange(key, offset, length)),
    stat: (key: string) => call('HEAD', key, () => inner.stat(key)),
    remove: (key: string) => call('DELETE', key, () => inner.remove(key)),
    list: (prefix: string, options?: { recursive?: boolean }) =>
      call('LIST', prefix, () => inner.list(prefix, options)),
    listIncompleteUploads: (prefix: string) =>
      call('list uploads', prefix, () => inner.listIncompleteUploads(prefix)),
    abortIncompleteUploads: (prefix: string, options?: { except?: readonly string[] }) =>
      call('abort uploads', prefix, () => inner.abortIncompleteUploads(prefix, options)),
  };
}

/** The object already exists and the write was create-only. */
export class ObjectExistsError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'ObjectExistsError';
  constructor(readonly key: string) {
    super(`object "${key}" already exists; checkpoint keys are never reused`);
  }
}

/** No object under that key. */
export class ObjectNotFoundError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`object "${key}" not found`);
  }
}

/** A ranged read starting past the object's end (the object is shorter than the caller thought). */
export class ObjectRangeError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'ObjectRangeError';
  constructor(
    readonly key: string,
    readonly offset: number,
  ) {
    super(`object "${key}" ends before byte ${offset}`);
  }
}

/**
 * The object store refused the caller: unknown access key, wrong secret, expired token, or a policy
 * that does not allow this call (S3 `InvalidAccessKeyId`, `SignatureDoesNotMatch`, `InvalidToken`,
 * `AccessDenied`). `code` is the store's own code. Transient here, as any other store error: a
 * key or policy can be fixed while a run waits; a worker checking its access before a run starts
 * (activities/s3-errors.ts) refuses the run with a permanent error instead.
 */
export class ObjectAccessDeniedError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'ObjectAccessDeniedError';
  constructor(
    readonly bucket: string,
    readonly operation: string,
    readonly key: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(`the object store refused ${operation} of "${key}" in bucket "${bucket}" (${code})`, options);
  }
}

/** The chunks of a body given as a buffer or a chunk list; undefined for a stream. */
export function bodyChunks(body: PutBody): readonly Uint8Array[] | undefined {
  if (Buffer.isBuffer(body)) return [body];
  return Array.isArray(body) ? (body as readonly Uint8Array[]) : undefined;
}
