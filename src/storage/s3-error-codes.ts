/**
 * S3 error codes, read from minio-js errors, are this folder's business: the adapter maps them to
 * the port's typed errors (object-client.ts), and nothing above `src/storage` reads a code.
 */
import { eachCallThrough, ObjectAccessDeniedError } from './object-client';
import type { ObjectClient } from './object-client';

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
  return eachCallThrough(inner, call);
}
