/**
 * S3 error codes, read from minio-js errors, are this folder's business: the adapter maps them to
 * the port's typed errors (object-client.ts), and nothing above `src/storage` reads a code.
 */
import { ObjectAccessDeniedError } from './object-client';
import type { ObjectClient, PutBody, PutOptions } from './object-client';

/** The codes of a refused caller: unknown key, wrong secret, bad token, or a policy's denial. */
export const ACCESS_DENIED_CODES: ReadonlySet<string> = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
]);

/** The S3 error code of an error (`NoSuchKey`, `AccessDenied`…), looking through `cause` chains. */
export function s3ErrorCode(err: unknown): string | undefined {
  for (let e: unknown = err; e; e = (e as { cause?: unknown }).cause) {
    if (typeof e === 'object' && e !== null && 'code' in e) return String((e as { code: unknown }).code);
  }
  return undefined;
}

/** `inner` whose calls reject with `ObjectAccessDeniedError` where the store refused the caller. */
export function withAccessErrors(inner: ObjectClient): ObjectClient {
  const { bucket } = inner;
  const call = async <T>(operation: string, key: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      const code = s3ErrorCode(err);
      if (code !== undefined && ACCESS_DENIED_CODES.has(code) && !(err instanceof ObjectAccessDeniedError)) {
        throw new ObjectAccessDeniedError(bucket, operation, key, code, { cause: err });
      }
      throw err;
    }
  };
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
