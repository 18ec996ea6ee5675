/**
 * The run's goodput ledger, as pure updates of the record: every attempt that ends adds the steps it
 * trained and where its seconds went; every failure adds the steps it lost (trained past the
 * checkpoint the run resumes from, so trained again) and its detection time; the attempt after a
 * failure adds its backoff, queue wait and start-up as that failure's recovery time. `goodputOf`
 * turns it into what `status` and the result show. Anchors: Google's ML goodput (productive training
 * time ÷ wall time); torchft reports 81 % at one failure a minute.
 *
 * Data-parallel runs (workflows/parallel.ts) keep the same ledger, in shard steps: every shard
 * attempt (K run at once) adds the steps of its own cursor it trained, and a failed shard loses the
 * steps it trained past the checkpoint it resumes from (its newest durable checkpoint in the round,
 * else the round's start). Their definitions:
 * - steps kept: the shard steps merged into the global model, K × (the global cursor's step − the
 *   ledger's start step): a round's shards each train H = `syncEverySteps` steps and the merged
 *   global checkpoint carries shard 0's cursor, so that is K × H × rounds merged. Inside the round in
 *   flight, as an epoch run keeps the steps up to its newest intra-epoch checkpoint, each shard's
 *   steps up to its newest durable point in the round count as kept too: its result once done, else
 *   the checkpoint it resumes from (`ShardLive.step`; a stop's own save included). So mid-round the
 *   ratio does not dip for steps merely not merged yet; once a run completes, kept is K × H × rounds;
 * - seconds: each shard attempt adds its own (training, queue wait, start-up, checkpoint stall;
 *   detection and recovery of its failures), so the ledger holds shard-seconds. `goodputOf` divides
 *   the totals (productive and lost seconds) by K: the mean shard's seconds, against the run's wall
 *   time, so `ratio` is the share of the K shards' wall time spent training kept steps. The
 *   per-kind seconds (`byKind`) stay each failure's own, added up.
 * The attempt after a shard's failure pays that failure's recovery time: K shards fail and resume
 * independently, so each shard's pending failure travels with the shard (`addShardAttempt`,
 * `addShardFailure`), not in the ledger's single `pending`.
 */
import type {
  AttemptTiming,
  Goodput,
  GoodputLedger,
  KindLedger,
  LostSeconds,
  ParallelRunRecord,
  RecoveryKind,
  RunRecord,
} from '../src/contract';

/** A failure whose recovery time the next attempt pays: its kind and the backoff before it. */
export type PendingRecovery = NonNullable<GoodputLedger['pending']>;

const NOTHING_LOST: LostSeconds = { detection: 0, recovery: 0, checkpointStall: 0, queueWait: 0 };

export function newLedger(startedAt: number, startStep: number): GoodputLedger {
  return { startedAt, startStep, stepsTrained: 0, trainMs: 0, lostMs: NOTHING_LOST, pausedMs: 0, byKind: {} };
}

/** The record's ledger; a run from before the ledger starts one now, at its current position. */
export function ledgerOf(record: RunRecord, now: number): GoodputLedger {
  return record.ledger ?? newLedger(now, record.position?.step ?? 0);
}

/**
 * An attempt ended (its epoch finished, or it failed): its steps and seconds. The attempt right after
 * a failure (`pending`) spent its backoff, queue wait and start-up recovering from it.
 */
export function addAttempt(ledger: GoodputLedger, timing: AttemptTiming | undefined): GoodputLedger {
  if (!timing) return ledger; // a worker from before the ledger: nothing measured
  return { ...withAttempt(ledger, timing, ledger.pending), pending: undefined };
}

/**
 * A shard attempt ended (finished its round, paused, or stopped): as `addAttempt`, with the shard's
 * own pending failure (the one this attempt resumed from), if any. The ledger's `pending` is not
 * touched: it belongs to epoch runs.
 */
export function addShardAttempt(
  ledger: GoodputLedger,
  timing: AttemptTiming | undefined,
  pending: PendingRecovery | undefined,
): GoodputLedger {
  return timing ? withAttempt(ledger, timing, pending) : ledger;
}

/** The attempt's steps and seconds; `pending`: the failure it resumed from, which its wait recovered. */
function withAttempt(
  ledger: GoodputLedger,
  timing: AttemptTiming,
  pending: PendingRecovery | undefined,
): GoodputLedger {
  const lost = { ...ledger.lostMs, checkpointStall: ledger.lostMs.checkpointStall + timing.stallMs };
  const waited = timing.queueMs + timing.startupMs;
  let byKind = ledger.byKind;
  if (pending) {
    const ms = pending.backoffMs + waited;
    lost.recovery += ms;
    byKind = withKind(byKind, pending.kind, (k) => ({
      ...k,
      recoverySeconds: k.recoverySeconds + ms / 1000,
    }));
  } else lost.queueWait += waited;
  return {
    ...ledger,
    stepsTrained: ledger.stepsTrained + Math.max(0, timing.reachedStep - timing.fromStep),
    trainMs: ledger.trainMs + timing.trainMs,
    lostMs: lost,
    byKind,
  };
}

/** A failed attempt: what it reported, and the furthest it is otherwise known to have got. */
export interface FailedAttempt {
  kind: RecoveryKind;
  timing?: AttemptTiming;
  reached: number;
}

/** What a failure added to the ledger. */
export interface FailureAdded {
  ledger: GoodputLedger;
  stepsRedone: number;
  detectionSeconds: number;
}

/**
 * A failed attempt, after the decision of where to resume (`resumeStep`): the steps it trained past
 * that point are lost and trained again. `reached` stands in for the attempt's own report when it
 * sent none (a worker lost before its first heartbeat): the furthest checkpoint known.
 */
export function addFailure(
  ledger: GoodputLedger,
  failure: FailedAttempt,
  resumeStep: number,
  now: number,
  backoffMs: number,
): FailureAdded {
  const added = withFailure(ledger, failure, ledger.pending, resumeStep, now);
  return { ...added, ledger: { ...added.ledger, pending: { kind: failure.kind, backoffMs } } };
}

/**
 * A failed shard attempt, in the shard's own steps (`resumeStep`: its newest durable checkpoint in
 * the round, else the round's start). `pending`: the failure this attempt had resumed from. Returns
 * this failure as the pending one of the shard's next attempt (the ledger's `pending` is not touched).
 */
export function addShardFailure(
  ledger: GoodputLedger,
  failure: FailedAttempt,
  pending: PendingRecovery | undefined,
  resumeStep: number,
  now: number,
  backoffMs: number,
): FailureAdded & { pending: PendingRecovery } {
  return {
    ...withFailure(ledger, failure, pending, resumeStep, now),
    pending: { kind: failure.kind, backoffMs },
  };
}

function withFailure(
  ledger: GoodputLedger,
  failure: FailedAttempt,
  pending: PendingRecovery | undefined,
  resumeStep: number,
  now: number,
): FailureAdded {
  const { kind, timing } = failure;
  const reached = Math.max(timing?.reachedStep ?? 0, failure.reached);
  // The workflow may know the attempt got further than its last report (a divergence names the step
  // it trained and never reported): those steps were trained too.
  const after = timing ? withAttempt(ledger, { ...timing, reachedStep: reached }, pending) : ledger;
  const stepsRedone = Math.max(0, reached - resumeStep);
  const detectionMs = timing ? Math.max(0, now - timing.at) : 0;
  return {
    ledger: {
      ...after,
      // Lost steps were trained (counted above) but are not kept: nothing to add to stepsTrained.
      lostMs: { ...after.lostMs, detection: after.lostMs.detection + detectionMs },
      byKind: withKind(after.byKind, kind, (k) => ({
        failures: k.failures + 1,
        stepsRedone: k.stepsRedone + stepsRedone,
        detectionSeconds: k.detectionSeconds + detectionMs / 1000,
        recoverySeconds: k.recoverySeconds,
      })),
    },
    stepsRedone,
    detectionSeconds: detectionMs / 1000,
  };
}

/** Time paused by request: not the run's fault, so not in its wall time. */
export function addPaused(ledger: GoodputLedger, ms: number): GoodputLedger {
  return { ...ledger, pausedMs: ledger.pausedMs + Math.max(0, ms) };
}

/**
 * What `status` and the result show; undefined for a run from before the ledger. A data-parallel
 * run's steps are shard steps and its seconds shard-seconds (see the top of this file): kept is K ×
 * the global cursor's advance plus the round in flight's durable shard steps, and productive and
 * lost seconds are the K shards' mean.
 */
export function goodputOf(record: RunRecord, now: number): Goodput | undefined {
  const ledger = record.ledger;
  if (!ledger) return undefined;
  const shards = record.spec.parallel?.shards ?? 1;
  const merged = Math.max(0, (record.position?.step ?? ledger.startStep) - ledger.startStep);
  const kept = shards * merged + keptInRound(record);
  const stepsRedone = Object.values(ledger.byKind).reduce((sum, k) => sum + k.stepsRedone, 0);
  // An attempt lost before it reported anything trained steps nobody counted: never fewer than kept.
  const stepsTrained = Math.max(ledger.stepsTrained, kept);
  const stepRatio = stepsTrained > 0 ? kept / stepsTrained : 1;
  const wallMs = Math.max(0, now - ledger.startedAt - ledger.pausedMs);
  const productiveMs = Math.min((ledger.trainMs * stepRatio) / shards, wallMs);
  const seconds = (ms: number) => round(ms / shards / 1000, 3);
  return {
    stepsTrained,
    stepsKept: kept,
    stepsRedone,
    stepRatio: round(stepRatio, 4),
    wallSeconds: round(wallMs / 1000, 3),
    productiveSeconds: round(productiveMs / 1000, 3),
    ratio: wallMs > 0 ? round(productiveMs / wallMs, 4) : 1,
    lostSeconds: {
      detection: seconds(ledger.lostMs.detection),
      recovery: seconds(ledger.lostMs.recovery),
      checkpointStall: seconds(ledger.lostMs.checkpointStall),
      queueWait: seconds(ledger.lostMs.queueWait),
    },
    byKind: ledger.byKind,
  };
}

/** Shard steps durable in the round in flight, past its start (0 for an epoch run, or between rounds). */
function keptInRound(record: ParallelRunRecord): number {
  const p = record.parallel;
  if (!p?.current || p.current.round !== p.round) return 0;
  const start = p.global.step;
  return p.current.shards.reduce((sum, s) => sum + Math.max(0, (s.step ?? start) - start), 0);
}

function withKind(
  byKind: GoodputLedger['byKind'],
  kind: RecoveryKind,
  update: (k: KindLedger) => KindLedger,
): GoodputLedger['byKind'] {
  const current = byKind[kind] ?? { failures: 0, stepsRedone: 0, detectionSeconds: 0, recoverySeconds: 0 };
  const next = update(current);
  return {
    ...byKind,
    [kind]: {
      ...next,
      detectionSeconds: round(next.detectionSeconds, 3),
      recoverySeconds: round(next.recoverySeconds, 3),
    },
  };
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
