/**
 * Failure types shared by the activities (which raise them) and the workflow (which classifies them).
 * Plain constants, so both sides can import this file.
 *
 * Whether a failure is permanent is not listed here: each error class declares it
 * (src/failure-kind.ts) and the activity boundary sets `nonRetryable` from it, which the workflow
 * reads. Only the one distinction the workflow acts on differently is named here.
 */

/** The worker is shutting down (SIGTERM / preemption); details carry the checkpoint it saved. */
export const PREEMPTED = 'Preempted';
/** The run was paused; details carry the checkpoint saved at the batch boundary. */
export const PAUSED = 'Paused';
/**
 * The attempt was paused with Temporal's own activity pause (`temporal activity pause`, the Web UI):
 * it saved a checkpoint at the batch boundary and told the workflow (`attemptPaused`). The server
 * holds the activity until `unpause`, whose next attempt resumes from that checkpoint.
 */
export const ACTIVITY_PAUSED = 'ActivityPaused';
/**
 * The loss diverged (src/training/divergence.ts `DivergedError`); details carry the step in
 * `diverged`: the workflow rolls back to an older checkpoint and skips data (README: Divergence rollback).
 */
export const DIVERGED = 'DivergedError';

/**
 * The checkpoint the attempt started from could not be used (missing, or failed verification): fall
 * back to an older one. Exactly the classes whose `failureKind` is `'unusable-checkpoint'`; a unit
 * test (test/unit/error-classification.test.ts) keeps the two equal.
 */
export const CHECKPOINT_UNUSABLE_TYPES: readonly string[] = [
  'CheckpointCorruptError',
  'CheckpointNotFoundError',
  'CheckpointSignatureError',
  'CheckpointUnsignedError',
];

/** Whether a failure of this type means "the starting checkpoint is unusable". */
export function isUnusableCheckpoint(type: string | undefined): boolean {
  return type !== undefined && CHECKPOINT_UNUSABLE_TYPES.includes(type);
}
