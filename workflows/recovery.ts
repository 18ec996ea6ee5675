/** Pure decisions of the recovery story: what failed, and which durable checkpoint to resume from. */
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type {
  AttemptTiming,
  CheckpointRef,
  Divergence,
  EpochResult,
  HeartbeatDetails,
  RecoveryKind,
} from '../src/contract';
import { ACTIVITY_PAUSED, DIVERGED, isUnusableCheckpoint, PAUSED, PREEMPTED } from '../src/contract';

export type FailureClass =
  | {
      kind: RecoveryKind;
      reason: string;
      ckpt?: CheckpointRef;
      /** last batch reported before it failed */ atBatch?: number;
      /** The epoch the attempt finished (its end checkpoint is `ckpt`); its completion was lost. */
      finished?: EpochResult;
      /** What the attempt measured about itself, for the goodput ledger. */
      attempt?: AttemptTiming;
      /** A divergence: the step whose loss gave it away. */
      diverged?: Divergence;
      /** With `diverged`: the checkpoints the attempt saved, to roll back to. */
      saved?: CheckpointRef[];
    }
  | { kind: 'unusable-checkpoint'; reason: string; attempt?: AttemptTiming }
  | { kind: 'fatal'; reason: string; type: string };

/**
 * Classifies an epoch or shard activity's failure (the activity runs with a single attempt).
 * `start` is the checkpoint the attempt started from: an unusable-checkpoint failure that names
 * another object (e.g. the key being written) says nothing about it, so it is not a reason to fall
 * back. Every failure of an attempt carries where it got to (its heartbeat details: newest durable
 * checkpoint, batch, a finished epoch's result); `carried` says whether to use what histories from
 * before that did not have (a patch check, asked only when such details are there).
 */
export function classifyFailure(
  err: unknown,
  start?: CheckpointRef,
  carried: () => boolean = () => true,
): FailureClass {
  if (!(err instanceof ActivityFailure)) return { kind: 'fatal', reason: messageOf(err), type: 'Error' };
  const cause = err.cause;
  if (cause instanceof TimeoutFailure) {
    const details = cause.lastHeartbeatDetails as HeartbeatDetails | undefined;
    const where = details ? ` at epoch ${details.epoch} batch ${details.batch}/${details.batches}` : '';
    return {
      kind: 'crash',
      reason: `worker stopped heartbeating (${cause.timeoutType})${where}`,
      ckpt: details?.ckpt,
      atBatch: details?.batch,
      ...(details?.finished && carried() ? { finished: details.finished } : {}),
      ...(details?.attempt ? { attempt: details.attempt } : {}),
    };
  }
  if (cause instanceof ApplicationFailure) {
    const type = cause.type ?? 'Error';
    const details = cause.details?.[0] as Partial<HeartbeatDetails> | undefined;
    const ckpt = details?.ckpt;
    const attempt = details?.attempt ? { attempt: details.attempt } : {};
    if (type === PREEMPTED) return { kind: 'preemption', reason: cause.message, ckpt, ...attempt };
    if (type === PAUSED || type === ACTIVITY_PAUSED)
      return { kind: 'pause', reason: cause.message, ckpt, ...attempt };
    const diverged = details?.diverged;
    if (type === DIVERGED && diverged) {
      const at = { atBatch: diverged.batch, ...(ckpt ? { ckpt } : {}), ...attempt };
      return { kind: 'divergence', reason: cause.message, diverged, saved: details.saved ?? [], ...at };
    }
    const position = { ...positionOf(details, carried), ...attempt };
    if (isUnusableCheckpoint(type)) {
      const named = checkpointNamed(cause);
      if (!named || named === start?.url)
        return { kind: 'unusable-checkpoint', reason: cause.message, ...attempt };
      return {
        kind: 'infrastructure',
        reason: `${type} for ${named}, not the checkpoint resumed from: ${cause.message}`,
        ...position,
      };
    }
    // The activity boundary set nonRetryable from the error class's declared permanence.
    if (cause.nonRetryable) return { kind: 'fatal', reason: cause.message, type };
    return { kind: 'infrastructure', reason: `${type}: ${cause.message}`, ...position };
  }
  // Cancelled by the server or an unknown cause: treat like a lost worker.
  return { kind: 'crash', reason: messageOf(cause ?? err) };
}

/** Orders checkpoints by training position (step, then epoch/batch cursor). */
export function isNewer(a: CheckpointRef, b: CheckpointRef | undefined): boolean {
  if (!b) return true;
  return a.step !== b.step ? a.step > b.step : a.epoch * 1e9 + a.batch > b.epoch * 1e9 + b.batch;
}

/** The newest known checkpoint that has not been found unusable. */
export function newestUsable(
  known: readonly CheckpointRef[],
  unusable: readonly string[],
): CheckpointRef | undefined {
  let best: CheckpointRef | undefined;
  for (const ckpt of known) if (!unusable.includes(ckpt.url) && isNewer(ckpt, best)) best = ckpt;
  return best;
}

/** Where a failed attempt got to, from its failure's details (absent in histories from before). */
function positionOf(
  details: Partial<HeartbeatDetails> | undefined,
  carried: () => boolean,
): { ckpt?: CheckpointRef; atBatch?: number; finished?: EpochResult } {
  if (!details || (!details.ckpt && details.batch === undefined) || !carried()) return {};
  return {
    ...(details.ckpt ? { ckpt: details.ckpt } : {}),
    ...(details.batch !== undefined ? { atBatch: details.batch } : {}),
    ...(details.finished ? { finished: details.finished } : {}),
  };
}

/** The checkpoint a failure is about: a `url` in its details, else the first `.ckpt` URL in its message. */
function checkpointNamed(cause: ApplicationFailure): string | undefined {
  const detail = cause.details?.[0] as { url?: unknown } | undefined;
  if (typeof detail?.url === 'string') return detail.url;
  return /s3:\/\/\S+?\.ckpt/.exec(cause.message)?.[0];
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
