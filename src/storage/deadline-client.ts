/**
 * The deadline of every `ObjectClient` call (deadline.ts): a call runs in a call scope whose
 * requests are destroyed at its deadline. A read's deadline also covers its body: the returned
 * stream is destroyed with `S3DeadlineError` when it has not ended by then.
 */
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import { bodyChunks, eachCallThrough } from './object-client';
import type { ObjectClient, PutBody, PutOptions, RangeRead } from './object-client';
import { deadlineMs, S3DeadlineError, withDeadline } from './deadline';
import type { DeadlinePolicy } from './deadline';

/** `inner` with a deadline on each call; `inner` must make its requests through `scopedTransport`. */
export function withDeadlines(inner: ObjectClient, policy: DeadlinePolicy): ObjectClient {
  const base = deadlineMs(policy);
  const call = <T>(operation: string, key: string, fn: () => Promise<T>, ms = base) =>
    withDeadline(ms, { operation, key }, fn);
  return {
    ...eachCallThrough(inner, call),
    put(key: string, body: PutBody, options?: PutOptions) {
      const bytes = sizeOf(body, options);
      // A stream of unknown size goes up in parts, each call under its own deadline (multipart-upload.ts).
      if (bytes === undefined) return inner.put(key, body, options);
      return call('PUT', key, () => inner.put(key, body, options), deadlineMs(policy, bytes));
    },
    get: (key: string) => readWithin(policy, 'GET', key, undefined, () => inner.get(key)),
    async getRange(key: string, offset: number, length: number): Promise<RangeRead> {
      let read: RangeRead | undefined;
      await readWithin(
        policy,
        'ranged GET',
        key,
        length,
        async () => (read = await inner.getRange(key, offset, length)).body,
      );
      return read as RangeRead;
    },
  };
}

function sizeOf(body: PutBody, options?: PutOptions): number | undefined {
  const chunks = bodyChunks(body);
  return chunks ? chunks.reduce((n, c) => n + c.byteLength, 0) : options?.size;
}

/**
 * Opens a read under the call's deadline, which goes on until its body ends: `bytes` when known,
 * else the response's Content-Length, scales it. Past it, the body is destroyed with the error.
 */
async function readWithin(
  policy: DeadlinePolicy,
  operation: string,
  key: string,
  bytes: number | undefined,
  open: () => Promise<Readable>,
): Promise<Readable> {
  const started = Date.now();
  const body = await withDeadline(deadlineMs(policy, bytes), { operation, key }, open);
  const length = bytes ?? Number((body as Partial<IncomingMessage>).headers?.['content-length'] ?? 0);
  const ms = deadlineMs(policy, length);
  const left = ms - (Date.now() - started);
  const fail = () => body.destroy(new S3DeadlineError(operation, key, ms));
  if (left <= 0) {
    fail();
    return body;
  }
  const timer = setTimeout(fail, left);
  timer.unref();
  body.once('close', () => clearTimeout(timer));
  return body;
}
