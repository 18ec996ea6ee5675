/**
 * Error answers of the object store (HTTP 500 InternalError, 503 SlowDown, …). An answer is not a
 * hang: a call that gets one is sent again a couple of times, with its body built afresh, and then
 * fails at once with `S3ServerError`, well inside its deadline (deadline.ts).
 *
 * minio-js's own retry is off (minio-adapter.ts: `retryOptions.disableRetry`): it resends the same
 * body object, and our single PUTs and multipart parts are streams over the caller's chunks
 * (`bodyOf`), consumed by the first try, so its resend went out with headers and no body and waited
 * for the deadline, as if the store were hung. It also leaves such an answer unread (its socket
 * stays taken) and throws a bare `Error` without the S3 error code. So the transport here reads every
 * answer with one of those statuses (freeing the socket) and keeps its code and message for the
 * error, and `resending` sends a call again, or names the failure.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { FailureKind } from '../failure-kind';
import type { Transport } from './deadline';

/**
 * The statuses minio-js treats as retryable (its `retryHttpCodes`, not exported): on these it throws
 * without reading the answer, also with its retries off.
 */
export const SERVER_ERROR_STATUSES: ReadonlySet<number> = new Set([408, 429, 499, 500, 502, 503, 504, 520]);

/** What a server-error answer said. */
export interface ServerReply {
  status: number;
  /** The S3 error code of its XML body (`InternalError`, `SlowDown`…), when it had one. */
  s3Code?: string;
  s3Message?: string;
}

/**
 * The object store answered a call with a server error, each time it was sent. Transient: the
 * store is up and answering, so the same call may succeed later (the attempt retries or resumes).
 */
export class S3ServerError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'S3ServerError';
  readonly status: number;
  readonly s3Code: string | undefined;
  constructor(
    readonly operation: string,
    readonly key: string,
    reply: ServerReply,
    readonly tries: number,
    options?: { cause?: unknown; detail?: string },
  ) {
    const said = reply.s3Message ? ` ("${reply.s3Message}")` : '';
    const what = `HTTP ${reply.status}${reply.s3Code ? ` ${reply.s3Code}` : ''}${said}`;
    const times = tries === 1 ? 'once' : `${tries} times`;
    const detail = options?.detail ? `; ${options.detail}` : '';
    super(
      `S3 ${operation} of "${key}" failed (sent ${times}): the object store answered ${what}${detail}. ` +
        'A server error, not a hung store: the same call may succeed later.',
      { cause: options?.cause },
    );
    this.status = reply.status;
    this.s3Code = reply.s3Code;
  }
}

/** How often a call is sent at most, and the pause before the first resend (doubling after). */
export interface ResendPolicy {
  tries: number;
  backoffMs: number;
}

/** Three tries, 100 ms and 200 ms apart: a store that keeps failing fails the call in ~0.3 s. */
export const DEFAULT_RESENDS: ResendPolicy = { tries: 3, backoffMs: 100 };

export interface ResendOptions extends Partial<ResendPolicy> {
  /**
   * A failure of a resend that the earlier server error may explain (a create-only PUT that the store
   * may have carried out before answering 500 then finds its object there): thrown as that
   * `S3ServerError`, with `detail`, instead of as itself.
   */
  resendFailure?: { matches: (err: unknown) => boolean; detail: string };
}

/** One try of `resending`: the server-error answer it got, if any (set by the transport). */
interface Try {
  reply?: Promise<ServerReply>;
}

const tries = new AsyncLocalStorage<Try>();

/**
 * Runs `send` (one request, or a few that may be repeated) until it succeeds, fails other than by a
 * server-error answer, or has been tried `policy.tries` times; a failure by a server-error answer is
 * thrown as `S3ServerError`. `send` must build its request body afresh on every call (a stream is
 * consumed by the try that sent it). The call's deadline covers all its tries.
 */
export async function resending<T>(
  what: { operation: string; key: string },
  send: () => Promise<T>,
  options: ResendOptions = {},
): Promise<T> {
  const most = options.tries ?? DEFAULT_RESENDS.tries;
  const backoffMs = options.backoffMs ?? DEFAULT_RESENDS.backoffMs;
  let previous: ServerReply | undefined;
  for (let n = 1; ; n++) {
    const current: Try = {};
    try {
      return await tries.run(current, send);
    } catch (err) {
      if (!current.reply) {
        if (previous && options.resendFailure?.matches(err)) {
          const { detail } = options.resendFailure;
          throw new S3ServerError(what.operation, what.key, previous, n, { cause: err, detail });
        }
        throw err;
      }
      previous = await current.reply;
      if (n >= most) throw new S3ServerError(what.operation, what.key, previous, n, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, backoffMs * 2 ** (n - 1)));
    }
  }
}

/** Wraps a transport so that server-error answers are read (socket freed) and kept for `resending`. */
export function readingServerErrors(base: Transport): Transport {
  const request = (...args: Parameters<Transport['request']>): ClientRequest => {
    const made = (base.request as (...a: unknown[]) => ClientRequest)(...args);
    const current = tries.getStore();
    made.once('response', (res: IncomingMessage) => {
      if (!SERVER_ERROR_STATUSES.has(res.statusCode ?? 0)) return;
      const reply = readReply(res);
      if (current) current.reply = reply;
    });
    return made;
  };
  return { request: request as Transport['request'] };
}

/** The most of an error answer kept (S3's are a few hundred bytes); the rest is read and dropped. */
const KEPT_BYTES = 16 * 1024;

async function readReply(res: IncomingMessage): Promise<ServerReply> {
  let text = '';
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      if (text.length < KEPT_BYTES) text += chunk.toString('utf8');
    }
  } catch {
    // Destroyed (the call's deadline): the status is enough.
  }
  return { status: res.statusCode ?? 0, s3Code: xmlTag(text, 'Code'), s3Message: xmlTag(text, 'Message') };
}

function xmlTag(xml: string, tag: string): string | undefined {
  const value = new RegExp(`<${tag}>([^<]{1,500})</${tag}>`).exec(xml)?.[1]?.trim();
  return value || undefined;
}
