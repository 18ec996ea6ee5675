/**
 * Data-parallel rounds (README: Data-parallel training): the round loop of a run whose spec has
 * `parallel`. Each round starts K `trainShard` activities from the round's global `.ckpt`; a shard
 * that fails is resumed alone, from its newest durable checkpoint, while the others' results stay;
 * then `aggregateRound` merges the K results in shard order into the next global `.ckpt`, which
 * becomes the run's position. Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type {
  AttemptTiming,
  CheckpointRef,
  ControlState,
  ParallelRunRecord,
  RecoveryKind,
  ParallelTrainingResult,
  RunStatus,
  ShardResult,
  TrainingActivities,
} from '../src/contract';
import { CHECKPOINT_UNUSABLE_TYPES, SHARDS } from '../src/contract';
import {
  decideShardRecovery,
  newestInRound,
  nextRoundStep,
  parallelRetentionInput,
  recordRound,
  recordStoppedRound,
} from './parallel-decide';
import { markShard, markShardStep, recordInitShown, showRounds } from './parallel-progress';
import { recordRetention, recordWarning } from './record-update';
import type { FailureClass } from './recovery';
import { classifyFailure } from './recovery';
import { failuresCarryPosition } from './recover';
import { resultOf } from './results';
import type { PendingRecovery } from './goodput';
import { addPaused, addShardAttempt, goodputOf, ledgerOf } from './goodput';

/**
 * Patch id: pause, stop and checkpoint-now reach the running shards of a round (shards poll the
 * `controls` query for pause and checkpoint-now; a stop cancels them, and they save and end). Older
 * histories let the round finish first.
 */
const PATCH_CONTROLS_IN_ROUND = 'controls-reach-running-shards';
/** Patch id: `applyRetention` after each merged round when the run has a retention policy. */
const PATCH_PARALLEL_RETENTION = 'parallel-retention';

export interface ParallelLoop {
  record: ParallelRunRecord;
  controls: ControlState;
  workflowId: string;
  publish(status: RunStatus): void;
}

/**
 * The run in rounds, to its result; `continueAsNew` is called (and never returns) when the history
 * should start afresh: the record, with its round, travels with it.
 */
export async function trainInRounds(
  loop: ParallelLoop,
  continueAsNew: () => Promise<never>,
): Promise<ParallelTrainingResult> {
  const shown = showRounds(loop); // `progress` counts rounds and shows the round in flight's shards
  const outcome = await runRounds(shown);
  if (outcome === 'continue-as-new') return continueAsNew();
  shown.publish(outcome);
  return { ...resultOf(loop.record, outcome), rounds: loop.record.parallel?.log ?? [] };
}

/** Runs rounds until the run completes, stops, or should continue as new (the caller does that). */
export async function runRounds(loop: ParallelLoop): Promise<'completed' | 'stopped' | 'continue-as-new'> {
  const { record, controls } = loop;
  const progress = (record.parallel ??= recordInitShown(
    record,
    await mergeActivities(record).initParallel(input(loop)),
  ));
  let roundsThisRun = 0;
  for (;;) {
    const p = record.parallel ?? progress;
    // The UI's list can filter by shard count; `DfitEpoch` (visibility.ts) counts merged rounds.
    wf.upsertSearchAttributes([{ key: SHARDS, value: String(record.spec.parallel?.shards ?? 1) }]);
    const step = nextRoundStep(
      p,
      controls,
      roundsThisRun,
      record.spec.continueAsNewEvery,
      wf.workflowInfo().continueAsNewSuggested,
    );
    if (step === 'complete') return 'completed';
    if (step === 'stop') return 'stopped';
    if (step === 'continue-as-new') return 'continue-as-new';
    if (step === 'wait-while-paused') {
      const pausedAt = Date.now();
      loop.publish('paused');
      await wf.condition(() => !controls.paused || controls.stopRequested);
      record.ledger = addPaused(ledgerOf(record, pausedAt), Date.now() - pausedAt);
      loop.publish('running');
      continue;
    }
    const started = Date.now();
    const paused = pauseClock(record);
    const outcomes = await Promise.all(
      Array.from({ length: record.spec.parallel?.shards ?? 1 }, (_, s) => runShard(loop, p.round, s, paused)),
    );
    const shards = outcomes.filter((o): o is Finished => 'result' in o);
    if (shards.length < outcomes.length) {
      recordStoppedRound(
        record,
        p.round,
        outcomes.map((o) => ('result' in o ? o.result.ckpt : o.at)),
      );
      return 'stopped';
    }
    const mergeStarted = Date.now();
    const merged = await mergeActivities(record).aggregateRound({
      ...input(loop),
      round: p.round,
      global: p.global,
      shards: shards.map((s) => s.result.ckpt),
      shardInfo: shards.map(({ result, recoveries }) => ({
        worker: result.worker,
        recoveries,
        durationMs: result.durationMs,
      })),
    });
    recordRound(
      record,
      merged,
      shards.map((s) => s.result),
      shards.map((s) => s.recoveries),
      { roundMs: Date.now() - started, mergeMs: Date.now() - mergeStarted },
    );
    await retainRounds(record, loop.workflowId);
    roundsThisRun++;
    loop.publish('running');
  }
}

interface Finished {
  result: ShardResult;
  recoveries: number;
}
/** A shard the run's stop ended inside the round, with the newest checkpoint it saved there. */
interface Stopped {
  at?: CheckpointRef;
}

/**
 * One shard of one round: started, and resumed alone after each failure until it finishes. A pause
 * (the shard saved and ended) waits here and resumes it from that checkpoint; a stop ends it. Every
 * attempt that ends joins the run's goodput ledger (workflows/goodput.ts), in the shard's own steps;
 * the attempt after a failure pays that failure's recovery time (`pending`) and is told the steps
 * it trains again (`stepsRedone`).
 */
async function runShard(
  loop: ParallelLoop,
  round: number,
  shard: number,
  paused: PauseClock,
): Promise<Finished | Stopped> {
  const { record, controls } = loop;
  const p = record.parallel;
  if (!p) throw new Error('runShard before initParallel');
  let resumeFrom: CheckpointRef | undefined;
  let reason: RecoveryKind | undefined;
  let infraStreak = 0;
  let recoveries = 0;
  let pending: PendingRecovery | undefined;
  let stepsRedone: number | undefined;
  const ended = (timing: AttemptTiming | undefined) => {
    record.ledger = addShardAttempt(ledgerOf(record, Date.now()), timing, pending);
    pending = undefined;
  };
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 && controls.stopRequested && wf.patched(PATCH_CONTROLS_IN_ROUND))
      return resumeFrom ? { at: resumeFrom } : {};
    const previous = p.previous[shard];
    markShard(record, shard, { state: 'running', recoveries, step: resumeFrom?.step ?? p.global.step });
    const goodput = goodputOf(record, Date.now())?.stepRatio;
    try {
      const train = shardActivity(record, round, shard, resumeFrom).trainShard;
      const result: ShardResult = await untilStopped(controls, () =>
        train({
          ...input(loop),
          round,
          rounds: p.rounds,
          shard,
          global: p.global,
          ...(previous ? { previous } : {}),
          ...(resumeFrom ? { resumeFrom } : {}),
          attempt,
          ...(reason ? { reason } : {}),
          checkpointRequestsServed: controls.checkpointRequests,
          ...(reason && reason !== 'pause' && stepsRedone !== undefined ? { stepsRedone } : {}),
          ...(goodput !== undefined ? { goodput } : {}),
        }),
      );
      ended(result.attempt);
      markShard(record, shard, { state: 'done', recoveries, step: result.ckpt.step });
      return { result, recoveries };
    } catch (err) {
      const failure = classifyFailure(err, resumeFrom, failuresCarryPosition);
      const saved = newestInRound('ckpt' in failure ? failure.ckpt : undefined, resumeFrom, round);
      if (controls.stopRequested && wf.patched(PATCH_CONTROLS_IN_ROUND)) {
        ended(attemptOf(failure)); // its steps up to the checkpoint it saved when stopped are kept
        if (saved) markShardStep(record, shard, saved.step);
        return saved ? { at: saved } : {};
      }
      if (failure.kind === 'pause' && wf.patched(PATCH_CONTROLS_IN_ROUND)) {
        // Not a recovery: the shard saved at a batch boundary and continues from there on resume.
        ended(failure.attempt);
        resumeFrom = saved;
        reason = 'pause';
        stepsRedone = undefined;
        markShard(record, shard, { state: 'paused', recoveries, step: saved?.step ?? p.global.step });
        loop.publish('paused');
        paused.begin();
        await wf.condition(() => !controls.paused || controls.stopRequested);
        paused.end();
        if (!controls.stopRequested) loop.publish('running');
        continue;
      }
      const at = {
        round,
        shard,
        infraStreak,
        roundStep: p.global.step,
        ...(resumeFrom ? { resumeFrom } : {}),
        ...(pending ? { pending } : {}),
      };
      const decision = decideShardRecovery(record, failure, at, Date.now());
      if (decision.action === 'fail')
        throw wf.ApplicationFailure.nonRetryable(decision.message, decision.type);
      loop.publish('recovering');
      recoveries++;
      markShard(record, shard, {
        state: 'recovering',
        recoveries,
        step: decision.from?.step ?? p.global.step,
      });
      ({ infraStreak, pending, stepsRedone } = decision);
      resumeFrom = decision.from;
      reason = decision.kind;
      if (decision.backoffMs > 0) await wf.sleep(decision.backoffMs);
    }
  }
}

function attemptOf(failure: FailureClass): AttemptTiming | undefined {
  return 'attempt' in failure ? failure.attempt : undefined;
}

/**
 * Time shards of a round wait paused by request, left out of the run's wall time once however many
 * shards wait at once: from the first shard's pause to the last one's resume.
 */
interface PauseClock {
  begin(): void;
  end(): void;
}

function pauseClock(record: ParallelRunRecord): PauseClock {
  let waiting = 0;
  let since = 0;
  return {
    begin() {
      if (waiting++ === 0) since = Date.now();
    },
    end() {
      if (--waiting === 0) record.ledger = addPaused(ledgerOf(record, since), Date.now() - since);
    },
  };
}

/**
 * Runs a shard attempt; a stop requested meanwhile cancels it (the activity saves at a batch
 * boundary and fails carrying that checkpoint).
 */
async function untilStopped<T>(controls: ControlState, work: () => Promise<T>): Promise<T> {
  const scope = new wf.CancellationScope();
  let settled = false;
  void wf
    .condition(() => settled || controls.stopRequested)
    .then(() => {
      if (!settled && wf.patched(PATCH_CONTROLS_IN_ROUND)) scope.cancel();
    });
  try {
    return await scope.run(work);
  } finally {
    settled = true;
  }
}

function shardActivity(record: ParallelRunRecord, round: number, shard: number, from?: CheckpointRef) {
  const { spec } = record;
  const k = spec.parallel?.shards ?? 1;
  return wf.proxyActivities<TrainingActivities>({
    startToCloseTimeout: '7 days',
    // All shards of a run on the run's backend queue: only those workers continue it exactly.
    ...(record.route ? { taskQueue: record.route } : {}),
    heartbeatTimeout: spec.recovery.heartbeatTimeoutSeconds * 1000,
    retry: { maximumAttempts: 1 },
    cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    summary: from
      ? `round ${round} shard ${shard}/${k}: resume from ${from.url}`
      : `round ${round} shard ${shard}/${k}`,
  });
}

/**
 * Retention after a merged round (README: Data-parallel training): deletes the `parallel/` objects
 * the policy no longer keeps. A failure is a warning, not a reason to fail the training.
 */
async function retainRounds(record: ParallelRunRecord, workflowId: string): Promise<void> {
  const retention = parallelRetentionInput(record, record.spec.runName ?? workflowId);
  const idle = !retention.policy.keepLast && !retention.policy.topK;
  const merged = (record.parallel?.round ?? 1) - 1;
  if (idle || !wf.patched(PATCH_PARALLEL_RETENTION)) return recordRetention(record, []);
  try {
    const { deleted } = await wf
      .proxyActivities<TrainingActivities>({
        startToCloseTimeout: '2 minutes', // on the run's shared queue: backend queues train and merge only
        // It heartbeats: a worker lost mid-way is noticed within the heartbeat timeout.
        heartbeatTimeout: record.spec.recovery.heartbeatTimeoutSeconds * 1000,
        retry: { maximumAttempts: 5 },
        summary: `retention after round ${merged}`,
      })
      .applyRetention(retention);
    recordRetention(record, deleted);
  } catch (err) {
    const cause = err instanceof wf.ActivityFailure ? (err.cause ?? err) : err;
    const message = `retention after round ${merged} failed: ${String(cause)}`;
    wf.log.warn(message);
    recordWarning(record, message);
  }
}

/** The merge activities: idempotent (a retried merge adopts what it wrote), so they retry. */
function mergeActivities(record: ParallelRunRecord) {
  return wf.proxyActivities<TrainingActivities>({
    startToCloseTimeout: '10 minutes',
    ...(record.route ? { taskQueue: record.route } : {}),
    // It heartbeats: a worker lost mid-merge is noticed within the heartbeat timeout, not 10 minutes.
    heartbeatTimeout: record.spec.recovery.heartbeatTimeoutSeconds * 1000,
    retry: { maximumAttempts: 5, nonRetryableErrorTypes: [...CHECKPOINT_UNUSABLE_TYPES] },
    summary: record.parallel ? `merge round ${record.parallel.round}` : 'write the round-0 global checkpoint',
  });
}

function input(loop: ParallelLoop) {
  return { spec: loop.record.spec, workflowId: loop.workflowId };
}
