/**
 * One shard of a data-parallel round (parallel.ts): its attempts, each a `trainShard` activity, until
 * it finishes its round; a failed attempt is resumed alone, from the shard's newest durable
 * checkpoint, as the one recovery rule decides (parallel-decide.ts, budget.ts). Pause, stop and
 * checkpoint-now reach its running attempt. Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type {
  AttemptTiming,
  CheckpointRef,
  ControlState,
  ParallelRunRecord,
  RecoveryKind,
  ShardResult,
  TrainingActivities,
} from '../src/contract';
import { decideShardRecovery, newestInRound } from './parallel-decide';
import { markShard, markShardStep } from './parallel-progress';
import type { FailureClass } from './recovery';
import { classifyFailure } from './recovery';
import { failuresCarryPosition } from './epoch-recovery';
import type { PendingRecovery } from './goodput';
import { addPaused, addShardAttempt, goodputOf, ledgerOf } from './goodput';
import type { Loop } from './training-loop';

/**
 * Patch id: pause, stop and checkpoint-now reach the running shards of a round (shards poll the
 * `controls` query for pause and checkpoint-now; a stop cancels them, and they save and end). Older
 * histories let the round finish first.
 */
const PATCH_CONTROLS_IN_ROUND = 'controls-reach-running-shards';
/**
 * Patch id: a failed shard's budgets follow the run's one rule (workflows/budget.ts, issue 21);
 * older histories decided with the shard's own streak rule (parallel-decide.ts keeps it for them).
 */
const PATCH_ONE_BUDGET_RULE = 'one-recovery-budget-rule';

export interface Finished {
  result: ShardResult;
  recoveries: number;
}
/** A shard the run's stop ended inside the round, with the newest checkpoint it saved there. */
export interface Stopped {
  at?: CheckpointRef;
}

/**
 * One shard of one round: started, and resumed alone after each failure until it finishes. A pause
 * (the shard saved and ended) waits here and resumes it from that checkpoint; a stop ends it. Every
 * attempt that ends joins the run's goodput ledger (workflows/goodput.ts), in the shard's own steps;
 * the attempt after a failure pays that failure's recovery time (`pending`) and is told the steps
 * it trains again (`stepsRedone`).
 */
export async function runShard(
  loop: Loop<ParallelRunRecord>,
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
  let fallbackStreak = 0;
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
          spec: record.spec,
          workflowId: loop.workflowId,
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
        fallbackStreak,
        oneBudgetRule: wf.patched(PATCH_ONE_BUDGET_RULE),
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
      ({ infraStreak, fallbackStreak, pending, stepsRedone } = decision);
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
export interface PauseClock {
  begin(): void;
  end(): void;
}

export function pauseClock(record: ParallelRunRecord): PauseClock {
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
