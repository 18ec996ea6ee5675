/**
 * trainShard: one shard of one data-parallel round, as a Temporal activity (README: Data-parallel
 * training). The attempt loop (attempt.ts) runs it, as it runs an epoch; this file says what a shard
 * trains, where it saves and what it returns: from the round's global weights with the shard's own
 * optimizer state (or from its newest durable checkpoint inside the round after a failure), the
 * round's H steps on its slice of the data, checkpoints under the round's folder
 * (parallel-keys.ts), and the shard's result.
 */
import os from 'node:os';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/format';
import { sha256OfParts } from '../src/checkpoint/integrity';
import type { CheckpointRef, ShardHeartbeat, ShardResult, TrainShardInput } from '../src/contract';
import type { TrainingState } from '../src/state';
import { composeShardStart } from '../src/training/aggregate';
import type { AttemptTarget, AttemptTools } from './attempt-target';
import { runAttempt } from './attempt';
import type { ActivityDeps } from './deps';
import { saveAt, saveOrAdopt, shardKey } from './parallel-keys';

export async function trainShard(deps: ActivityDeps, input: TrainShardInput): Promise<ShardResult> {
  return runAttempt(deps, shardTarget(input));
}

/** A shard attempt of round `input.round`. */
export function shardTarget(input: TrainShardInput): AttemptTarget<ShardResult, ShardHeartbeat> {
  const { spec, round, shard, attempt } = input;
  const runName = spec.runName ?? input.workflowId;
  const parallel = spec.parallel;
  if (!parallel) throw new Error('trainShard needs spec.parallel');
  const startCkpt = input.resumeFrom;
  return {
    workflowId: input.workflowId,
    task: spec.task,
    checkpoint: spec.checkpoint,
    ...(input.checkpointRequestsServed !== undefined
      ? { checkpointRequestsServed: input.checkpointRequestsServed }
      : {}),
    details: { epoch: round, batch: 0, batches: 0, loss: NaN, round, shard },
    // The shard's own step count where this attempt starts: its checkpoint in the round, else its
    // previous round's end (round 0: a fresh model).
    startStep: input.resumeFrom?.step ?? input.previous?.step ?? 0,
    ...(startCkpt ? { startCkpt } : {}),
    recovery: {
      ...(input.reason ? { recoveryKind: input.reason } : {}),
      ...(input.reason && input.stepsRedone !== undefined ? { stepsRedone: input.stepsRedone } : {}),
      ...(input.goodput !== undefined ? { goodput: input.goodput } : {}),
    },
    // Temporal's activity pause of a shard is a preemption: the parallel workflow resumes the shard
    // from the checkpoint its failure carries (it has no attempt-paused handler for shards).
    activityPause: false,
    async prepare(tools) {
      const from = await tools.untilCancelled(startState(tools, input));
      return {
        config: {
          task: spec.task,
          hparams: spec.hparams,
          seed: spec.seed,
          batchSize: spec.batchSize,
          epochs: input.rounds,
          shard: { index: shard, count: parallel.shards, steps: parallel.syncEverySteps },
          ...(spec.dataset ? { dataset: spec.dataset } : {}),
          ...(spec.validationDataset ? { validationDataset: spec.validationDataset } : {}),
        },
        epoch: round,
        ...(from ? { from: { sha256: from.sha256, url: from.url, bytes: from.bytes } } : {}),
        allowBackendChange: spec.recovery.allowBackendChange,
        specExtras: { training: spec, parallel: { round, shard } },
      };
    },
    // A retried attempt (Temporal's activity pause) writes the same keys: the same state is adopted.
    writer: (tools) => (state) =>
      saveOrAdopt(tools.deps.store, shardKey(runName, round, shard, attempt, state.meta.cursor.step), state),
    // The round's end is saved apart: no round's last batch inside it, and never the attempt's position.
    maySaveAfter: (p) => p.batch + 1 < p.batches,
    saveEnd: (_saver, state, tools) =>
      saveAt(tools.deps.store, shardKey(runName, round, shard, attempt), state),
    result: ({ outcome, ckpt, timing, durationMs, route }) => ({
      round,
      shard,
      ckpt,
      weightsSha256: outcome.state.meta.weightsSha256,
      metrics: roundMetrics(outcome.state, round),
      worker: `${os.hostname()}:${process.pid}`,
      durationMs,
      backend: outcome.state.meta.backend.name,
      ...(route ? { route } : {}),
      attempt: timing,
    }),
    finished: () => ({}),
    stoppedMessage: (why, ckpt) => `${why.message}: shard ${shard} of round ${round} stopped at ${ckpt.url}`,
  };
}

interface StartState {
  url: string;
  sha256: string;
  bytes: Buffer;
  step: number;
}

/**
 * Where the shard starts: its own checkpoint inside the round (a resume), else its previous result
 * with the global weights (composed here, so its optimizer state carries over), else fresh: in round
 * 0 every shard builds the same fresh model that the global checkpoint of round 0 holds.
 */
async function startState({ deps }: AttemptTools, input: TrainShardInput): Promise<StartState | undefined> {
  const load = (ref: CheckpointRef) =>
    deps.store.loadBytes(ref.url, { sha256: ref.sha256, bytes: ref.bytes });
  if (input.resumeFrom) {
    const bytes = await load(input.resumeFrom);
    return { url: input.resumeFrom.url, sha256: input.resumeFrom.sha256, bytes, step: input.resumeFrom.step };
  }
  if (!input.previous) return undefined;
  const [previous, global] = await Promise.all([load(input.previous), load(input.global)]);
  const start = composeShardStart(decodeCheckpoint(previous), decodeCheckpoint(global));
  const bytes = encodeCheckpoint(start);
  return { url: input.previous.url, sha256: sha256OfParts([bytes]), bytes, step: start.meta.cursor.step };
}

/** Metrics of the round just trained (the session evaluates at each round's end). */
function roundMetrics(state: TrainingState, round: number): Record<string, number> {
  const { epoch: _epoch, ...metrics } = state.meta.metrics.find((m) => m.epoch === round) ?? { epoch: round };
  return metrics;
}
