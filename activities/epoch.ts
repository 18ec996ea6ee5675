/**
 * trainEpoch / resumeEpoch: one epoch on the training engine, as a Temporal activity. The attempt
 * loop (attempt.ts) runs it; this file says what an epoch trains, where it saves and what it
 * returns: from the input's checkpoint (fresh at epoch 0, or a fork's weights) to the epoch's end,
 * checkpoints under the run's folder, and the epoch's result with its epoch-end checkpoint.
 */
import { Context } from '@temporalio/activity';
import { afterActivityPause } from './activity-pause';
import type { AttemptTarget, AttemptTools } from './attempt-target';
import { runAttempt } from './attempt';
import { runFolderWriter } from './checkpoint-saver';
import type { ActivityDeps } from './deps';
import { writeEpochLog } from './apply-retention';
import type { EpochResult, HeartbeatDetails, ResumeEpochInput, TrainEpochInput } from '../src/contract';

/** Trains `input.epoch` to its end from `input.ckptPath` (fresh at epoch 0); resumeEpoch is the same. */
export async function trainEpoch(deps: ActivityDeps, requested: TrainEpochInput): Promise<EpochResult> {
  const ctx = Context.current();
  // A second attempt exists only after Temporal's activity pause: it resumes where the pause saved.
  const paused = ctx.info.attempt > 1;
  const input = paused ? await afterActivityPause(ctx, requested) : requested;
  return runAttempt(deps, epochTarget(input, paused));
}

/** An epoch attempt: `pausedBefore` when it follows Temporal's activity pause of an earlier one. */
export function epochTarget(
  input: TrainEpochInput,
  pausedBefore = false,
): AttemptTarget<EpochResult, HeartbeatDetails> {
  const { spec, epoch } = input;
  const startCkpt = input.ckptPath ? input.ckpt : undefined;
  const runName = spec.runName ?? input.workflowId;
  const resumed = 'reason' in input ? (input as ResumeEpochInput) : undefined;
  return {
    workflowId: input.workflowId,
    task: spec.task,
    checkpoint: spec.checkpoint,
    ...(input.checkpointRequestsServed !== undefined
      ? { checkpointRequestsServed: input.checkpointRequestsServed }
      : {}),
    details: { epoch, batch: startCkpt?.batch ?? 0, batches: 0, loss: NaN },
    startStep: startCkpt?.step ?? 0,
    ...(startCkpt ? { startCkpt } : {}),
    recovery: {
      // An attempt after the first follows Temporal's activity pause: a pause, not a recovery.
      ...(resumed ? { recoveryKind: String(resumed.reason) } : pausedBefore ? { recoveryKind: 'pause' } : {}),
      ...(resumed ? { stepsRedone: resumed.stepsRedone } : {}),
      ...(input.goodput !== undefined ? { goodput: input.goodput } : {}),
    },
    activityPause: true,
    async prepare(tools) {
      const [start] = await tools.untilCancelled(
        Promise.all([startFrom(tools, input), abortLeftoverUploads(tools, input)]),
      );
      const initWeights =
        !start && input.initFrom
          ? await tools.untilCancelled(
              tools.deps.store.loadBytes(input.initFrom.url, {
                sha256: input.initFrom.sha256,
                bytes: input.initFrom.bytes,
              }),
            )
          : undefined;
      return {
        config: {
          task: spec.task,
          hparams: spec.hparams,
          seed: spec.seed,
          batchSize: spec.batchSize,
          epochs: spec.epochs,
          ...(spec.divergence ? { divergence: spec.divergence } : {}),
          ...(input.skips?.length ? { skips: input.skips } : {}),
          ...(spec.dataset ? { dataset: spec.dataset } : {}),
          ...(spec.validationDataset ? { validationDataset: spec.validationDataset } : {}),
        },
        epoch,
        from: start && {
          sha256: start.ref.sha256,
          url: start.ref.url,
          ...(start.bytes ? { bytes: start.bytes } : {}),
          load: start.load,
        },
        allowBackendChange: spec.recovery.allowBackendChange,
        ...(initWeights ? { initWeights } : {}),
        specExtras: { training: spec },
      };
    },
    writer: (tools) => runFolderWriter(tools.deps.store, runName, tools.log),
    saveEnd: (saver, state) => saver.save(state),
    result: ({ outcome, ckpt, timing, durationMs, route, site }) => ({
      epoch,
      step: ckpt.step,
      ckpt,
      metrics: withoutEpoch(outcome.metrics ?? {}),
      weightsSha256: outcome.state.meta.weightsSha256,
      backend: outcome.state.meta.backend.name,
      durationMs,
      ...(route ? { route } : {}),
      ...(site ? { site } : {}),
      attempt: timing,
    }),
    finished: (result) => ({ ckpt: result.ckpt, finished: result }),
    async afterEnd(result, job, tools) {
      job.markWarm(result.ckpt);
      // The run's per-epoch log entry, here rather than in a retention activity the workflow runs
      // only when a retention policy is set. A failed write loses a log line, never the epoch.
      await writeEpochLog(tools.deps.runs, runName, result).catch((err: unknown) =>
        tools.log('epoch log entry not written', { epoch, error: String(err) }),
      );
    },
    stoppedMessage: (why, ckpt) =>
      `${why.message}; checkpoint saved at epoch ${ckpt.epoch} batch ${ckpt.batch}: ${ckpt.url}`,
  };
}

/**
 * A resume follows an attempt that died or stopped, perhaps in the middle of a multipart upload
 * whose parts nobody would ever complete. No other writer of this run is alive now, and this
 * attempt uploads nothing before its engine starts, so abort them here. Never fatal. (A shard never
 * does: the run's other shards are writing; the round's merge aborts its leftovers.)
 */
async function abortLeftoverUploads(tools: AttemptTools, input: TrainEpochInput): Promise<void> {
  if (!('reason' in input)) return;
  const runName = input.spec.runName ?? input.workflowId;
  try {
    const aborted = await tools.deps.runs.abortIncompleteUploads(runName);
    if (aborted) tools.log(`aborted ${aborted} incomplete upload(s) left by an earlier attempt`, { runName });
  } catch (err) {
    tools.log('could not abort incomplete uploads; MinIO expires them later', { error: String(err) });
  }
}

/**
 * The starting checkpoint. Its bytes are downloaded and verified (size and SHA-256) before the
 * engine sees them, unless the engine holds a warm session saved as exactly that checkpoint (it
 * wrote it): then the engine continues it, or loads the bytes through `load` if it cannot.
 */
async function startFrom({ deps }: AttemptTools, input: TrainEpochInput) {
  const ref = input.ckpt;
  if (!input.ckptPath || !ref) return undefined;
  if (ref.url !== input.ckptPath)
    throw new Error(`ckptPath ${input.ckptPath} does not match ckpt ${ref.url}`);
  const load = () => deps.store.loadBytes(ref.url, { sha256: ref.sha256, bytes: ref.bytes });
  if (deps.engine.isWarm(ref.sha256)) return { ref, load };
  return { ref, bytes: await load(), load };
}

function withoutEpoch(metrics: Record<string, number>): Record<string, number> {
  const { epoch: _epoch, ...rest } = metrics;
  return rest;
}
