/**
 * Deadlines for S3 calls. Heartbeats come from a timer, so a PUT or GET that never returns (a hung
 * store: MinIO SIGSTOPped, a black-holed connection) would keep an attempt alive for days. Each call
 * of the `ObjectClient` port therefore runs in a *call scope* with a deadline scaled by its size;
 * the adapter's HTTP transport registers every request made inside a scope (AsyncLocalStorage), so
 * at the deadline the requests and their responses are destroyed — the socket is closed, not
 * returned to the pool, and a request body stream stops — and the call rejects with
 * `S3DeadlineError`, an infrastructure failure (transient: the run resumes from its newest durable
 * checkpoint and it counts in the infrastructure budget).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type http from 'node:http';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { FailureKind } from '../failure-kind';

/** How long an S3 call may take: `baseMs` plus `perMiBMs` for each MiB it sends or receives. */
export interface DeadlinePolicy {
  baseMs: number;
  perMiBMs: number;
}

const MIB = 1024 * 1024;

/** The deadline of one call moving `bytes` (0 when unknown or none). */
export function deadlineMs(policy: DeadlinePolicy, bytes = 0): number {
  return Math.round(policy.baseMs + (policy.perMiBMs * bytes) / MIB);
}

/** An S3 call did not finish by its deadline; its connection was closed. */
export class S3DeadlineError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'S3DeadlineError';
  constructor(
    readonly operation: string,
    readonly key: string,
    readonly deadlineMs: number,
  ) {
    super(
      `S3 ${operation} of "${key}" did not finish within its ${deadlineMs} ms deadline (the object store ` +
        'is hung or too slow); the connection was closed and the run resumes from its newest durable ' +
        'checkpoint. If the store is only slow, raise DFIT_S3_DEADLINE / DFIT_S3_DEADLINE_PER_MIB on the workers.',
    );
  }
}

/** The requests of one call (and of the calls it contains), destroyed together at its deadline. */
export class CallScope {
  private readonly requests = new Set<ClientRequest>();
  private failure: Error | undefined;

  constructor(private readonly parent?: CallScope) {}

  track(request: ClientRequest): void {
    if (this.failure) request.destroy(this.failure);
    this.requests.add(request);
    request.once('close', () => this.requests.delete(request));
    this.parent?.track(request);
  }

  /** Destroys every request of this scope and its response; later requests are destroyed at once. */
  destroy(failure: Error): void {
    this.failure ??= failure;
    for (const request of this.requests) {
      (request as ClientRequest & { res?: IncomingMessage }).res?.destroy(failure);
      request.destroy(failure);
    }
    this.requests.clear();
  }
}

const scopes = new AsyncLocalStorage<CallScope>();

/** The scope of the call running now, if any. */
export function currentScope(): CallScope | undefined {
  return scopes.getStore();
}

/** Runs `fn` outside of every call scope (work that must outlive the call, e.g. a cleanup). */
export function outsideScopes<T>(fn: () => T): T {
  return scopes.exit(fn);
}

/**
 * Runs one call under a deadline: rejects with `S3DeadlineError` when `fn` has not settled by then,
 * after destroying every request it made. A scope inside another (a part inside an upload) also
 * registers its requests with the outer one.
 */
export async function withDeadline<T>(
  ms: number,
  what: { operation: string; key: string },
  fn: (scope: CallScope) => Promise<T>,
): Promise<T> {
  const scope = new CallScope(currentScope());
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const err = new S3DeadlineError(what.operation, what.key, ms);
      scope.destroy(err);
      reject(err);
    }, ms);
  });
  try {
    return await Promise.race([scopes.run(scope, () => fn(scope)), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` in a call scope of its own without a deadline (its calls each have theirs). */
export function inScope<T>(fn: (scope: CallScope) => Promise<T>): Promise<T> {
  const scope = new CallScope(currentScope());
  return scopes.run(scope, () => fn(scope));
}

/** What minio-js needs of `http` / `https`: its `request` function. */
export type Transport = Pick<typeof http, 'request'>;

/** Wraps `http` or `https` so that every request joins the call scope it was made in. */
export function scopedTransport(base: Transport): Transport {
  const request = (...args: Parameters<Transport['request']>): ClientRequest => {
    const made = (base.request as (...a: unknown[]) => ClientRequest)(...args);
    currentScope()?.track(made);
    return made;
  };
  return { request: request as Transport['request'] };
}

/** 20 s plus 1 s per MiB (a store slower than 1 MiB/s counts as hung). */
export const DEFAULT_DEADLINE: DeadlinePolicy = { baseMs: 20_000, perMiBMs: 1_000 };
