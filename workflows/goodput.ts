/**
 * The run's goodput ledger, as pure updates of the record: every attempt that ends adds the steps it
 * trained and where its seconds went; every failure adds the steps it lost (trained past the
 * checkpoint the run resumes from, so trained again) and its detection time; the attempt after a
 * failure adds its backoff, queue wait and start-up as that failure's recovery time. `goodputOf`
 * turns it into what `status` and the result show. Anchors: Google's ML goodput (productive training
 * time ÷ wall time); torchft reports 81 % at one failure a minute.
 */
import type {
  AttemptTiming,
  Goodput,
  GoodputLedger,
  KindLedger,
  LostSeconds,
  RecoveryKind,
  RunRecord,
} from '../src/contract';

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
  const lost = { ...ledger.lostMs, checkpointStall: ledger.lostMs.checkpointStall + timing.stallMs };
  const waited = timing.queueMs + timing.startupMs;
  let byKind = ledger.byKind;
  const { pending } = ledger;
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
    pending: undefined,
  };
}

/**
 * A failed attempt, after the decision of where to resume (`resumeStep`): the steps it trained past
 * that point are lost and trained again. `reached` stands in for the attempt's own report when it
 * sent none (a worker lost before its first heartbeat): the furthest checkpoint known.
 */
export function addFailure(
  ledger: GoodputLedger,
  failure: { kind: RecoveryKind; timing?: AttemptTiming; reached: number },
  resumeStep: number,
  now: number,
  backoffMs: number,
): { ledger: GoodputLedger; stepsRedone: number; detectionSeconds: number } {
  const { kind, timing } = failure;
  const reached = Math.max(timing?.reachedStep ?? 0, failure.reached);
  // The workflow may know the attempt got further than its last report (a divergence names the step
  // it trained and never reported): those steps were trained too.
  const after = addAttempt(ledger, timing && { ...timing, reachedStep: reached });
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
      pending: { kind, backoffMs },
    },
    stepsRedone,
    detectionSeconds: detectionMs / 1000,
  };
}

/** Time paused by request: not the run's fault, so not in its wall time. */
export function addPaused(ledger: GoodputLedger, ms: number): GoodputLedger {
  return { ...ledger, pausedMs: ledger.pausedMs + Math.max(0, ms) };
}

/** What `status` and the result show; undefined for a run from before the ledger. */
export function goodputOf(record: RunRecord, now: number): Goodput | undefined {
  const ledger = record.ledger;
  if (!ledger) return undefined;
  const kept = Math.max(0, (record.position?.step ?? ledger.startStep) - ledger.startStep);
  const stepsRedone = Object.values(ledger.byKind).reduce((sum, k) => sum + k.stepsRedone, 0);
  // An attempt lost before it reported anything trained steps nobody counted: never fewer than kept.
  const stepsTrained = Math.max(ledger.stepsTrained, kept);
  const stepRatio = stepsTrained > 0 ? kept / stepsTrained : 1;
  const wallMs = Math.max(0, now - ledger.startedAt - ledger.pausedMs);
  const productiveMs = Math.min(ledger.trainMs * stepRatio, wallMs);
  return {
    stepsTrained,
    stepsKept: kept,
    stepsRedone,
    stepRatio: round(stepRatio, 4),
    wallSeconds: round(wallMs / 1000, 3),
    productiveSeconds: round(productiveMs / 1000, 3),
    ratio: wallMs > 0 ? round(productiveMs / wallMs, 4) : 1,
    lostSeconds: {
      detection: round(ledger.lostMs.detection / 1000, 3),
      recovery: round(ledger.lostMs.recovery / 1000, 3),
      checkpointStall: round(ledger.lostMs.checkpointStall / 1000, 3),
      queueWait: round(ledger.lostMs.queueWait / 1000, 3),
    },
    byKind: ledger.byKind,
  };
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
