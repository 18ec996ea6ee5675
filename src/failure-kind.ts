/**
 * Whether an error is worth retrying is a property of its class, declared next to the class as
 * `static readonly failureKind`, and read once at the activity boundary (`activities/boundary.ts`).
 * A hand-kept list of type names drifts (ours did: it named a class that did not exist and missed
 * one that did), so a unit test walks every error class and fails on one without a declaration.
 */

/**
 * - `transient`: the same call may succeed later (a crash, a network error): retry or recover.
 * - `permanent`: no retry can fix it (bad input, an incompatible checkpoint): fail at once.
 * - `unusable-checkpoint`: the checkpoint the attempt *started from* is missing or damaged. Permanent
 *   for that checkpoint, but the workflow can fall back to an older one.
 */
export type FailureKind = 'transient' | 'permanent' | 'unusable-checkpoint';

export const FAILURE_KINDS: readonly FailureKind[] = ['transient', 'permanent', 'unusable-checkpoint'];

/** An error class that declares its failure kind. */
export interface ClassifiedErrorClass {
  readonly name: string;
  readonly failureKind: FailureKind;
}

/** What the boundary needs to know about a thrown error. */
export interface Classification {
  kind: FailureKind;
  /** The failure type the workflow sees: the class name (for a trainer error, the remote class). */
  type: string;
  /** The error in the cause chain that carried the classification. */
  error: Error;
  /** The outer message (context), followed by the classified cause's (what to do) when they differ. */
  message: string;
}

/** Errors that carry their kind per instance (a trainer error keeps its remote class's kind). */
interface InstanceClassified {
  readonly failureKind?: FailureKind;
  readonly failureType?: string;
}

/** The declared kind of this one error (its own, or its class's), without walking causes. */
export function declaredKind(err: Error): FailureKind | undefined {
  const own = (err as InstanceClassified).failureKind;
  if (own) return own;
  return (err.constructor as Partial<ClassifiedErrorClass>).failureKind;
}

/**
 * Classifies an error by the outermost error in its cause chain that declares a kind (a wrapper
 * such as `new Error('load failed [url=…]', { cause })` keeps its cause's permanence). Errors of
 * other libraries (network, S3, TypeError) declare nothing and count as transient.
 */
export function classifyError(err: unknown): Classification {
  const outer = err instanceof Error ? err : new Error(String(err));
  for (let e: unknown = outer, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    const kind = declaredKind(e);
    if (!kind) continue;
    const type = (e as InstanceClassified).failureType ?? e.constructor.name;
    return { kind, type, error: e, message: joinMessages(outer, e) };
  }
  return { kind: 'transient', type: outer.constructor.name, error: outer, message: outer.message };
}

function joinMessages(outer: Error, classified: Error): string {
  if (outer === classified || outer.message.includes(classified.message)) return outer.message;
  return `${outer.message}: ${classified.message}`;
}
