/**
 * trainEpoch / resumeEpoch: one epoch on the training engine, as a Temporal activity. Heartbeats
 * every batch (the SDK throttles), saves intra-epoch checkpoints in the background, turns a worker
 * shutdown or a pause into a checkpoint plus a retryable failure that carries it, and returns the
 * epoch-end checkpoint. A checkpoint is heartbeated only after its upload completed.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { CheckpointStore } from '../src/checkpoint/store';
import { PAUSED, PREEMPTED } from '../workflows/failure-types';
import type { EpochEngine, EpochJob } from './epoch-engine';
import { CheckpointSaver } from './checkpoint-saver';
import { watchControls } from './controls-watch';
import type { EpochResult, HeartbeatDetails, TrainEpochInput } from './types';

export interface EpochDeps {
  store: CheckpointStore;
  engine: EpochEngine;
  log?: (message: string, meta?: Record<string, unknown>) => void;
}

export async function runEpoch(deps: EpochDeps, input: TrainEpochInput): Promise<EpochResult> {
  const started = Date.now();
  const { spec, epoch } = input;
  const runName = spec.runName ?? input.workflowId;
  const ctx = Context.current();
  const start = await startFrom(deps, input);
  const initWeights =
    !start && input.initFrom
      ? await deps.store.loadBytes(input.initFrom.url, {
          sha256: input.initFrom.sha256,
          bytes: input.initFrom.bytes,
        })
      : undefined;
  const saver = new CheckpointSaver(deps.store, runName, start?.ref, (err) =>
    deps.log?.('intra-epoch checkpoint failed; training goes on', { error: String(err) }),
  );
  let progress: HeartbeatDetails = { epoch, batch: start?.ref.batch ?? 0, batches: 0, loss: NaN };
  const heartbeat = () => ctx.heartbeat({ ...progress, ckpt: saver.latest });
  let lastSave = { at: Date.now(), step: start?.ref.step ?? 0 };
  let job: EpochJob | undefined = undefined;
  job = await deps.engine.start({
    config: {
      task: spec.task,
      hparams: spec.hparams,
      seed: spec.seed,
      batchSize: spec.batchSize,
      epochs: spec.epochs,
    },
    epoch,
    from: start && { bytes: start.bytes, sha256: start.ref.sha256 },
    allowBackendChange: spec.recovery.allowBackendChange,
    ...(initWeights ? { initWeights } : {}),
    specExtras: { training: spec },
    onProgress(p) {
      progress = { epoch: p.epoch, batch: p.batch + 1, batches: p.batches, loss: p.loss };
      heartbeat();
      if (job && isSaveDue(spec.checkpoint, lastSave, p.step + 1) && !saver.busy) {
        lastSave = { at: Date.now(), step: p.step + 1 };
        saver.saveInBackground(job.snapshot());
      }
    },
  });
  const interrupt = watchInterruptions(ctx, input, job, saver);
  try {
    const outcome = await job.done;
    await saver.idle();
    if (outcome.stopped) throw await interrupt.toFailure(outcome.state);
    const ckpt = await saver.save(outcome.state);
    deps.engine.markWarm(ckpt.sha256);
    progress = { ...progress, batch: progress.batches };
    heartbeat();
    return {
      epoch,
      step: ckpt.step,
      ckpt,
      metrics: withoutEpoch(outcome.metrics ?? {}),
      weightsSha256: outcome.state.meta.weightsSha256,
      backend: outcome.state.meta.backend.name,
      durationMs: Date.now() - started,
    };
  } finally {
    interrupt.dispose();
  }
}

/**
 * The starting checkpoint. Its bytes are downloaded and verified (size and SHA-256) before the
 * engine sees them, unless the engine holds exactly that checkpoint already (it wrote it).
 */
async function startFrom(deps: EpochDeps, input: TrainEpochInput) {
  const ref = input.ckpt;
  if (!input.ckptPath || !ref) return undefined;
  if (ref.url !== input.ckptPath)
    throw new Error(`ckptPath ${input.ckptPath} does not match ckpt ${ref.url}`);
  if (deps.engine.isWarm(ref.sha256)) return { ref };
  const bytes = await deps.store.loadBytes(ref.url, { sha256: ref.sha256, bytes: ref.bytes });
  return { ref, bytes };
}

function isSaveDue(
  policy: TrainEpochInput['spec']['checkpoint'],
  last: { at: number; step: number },
  step: number,
): boolean {
  const byBatches = policy.everyBatches > 0 && step - last.step >= policy.everyBatches;
  const bySeconds = policy.everySeconds > 0 && Date.now() - last.at >= policy.everySeconds * 1000;
  return byBatches || bySeconds;
}

/**
 * Cancellation (worker shutdown / preemption) and the workflow's pause and checkpoint-now controls.
 * Either way the job stops at a batch boundary, the state there is saved, and the activity fails
 * with a retryable failure whose details carry that durable checkpoint.
 */
function watchInterruptions(ctx: Context, input: TrainEpochInput, job: EpochJob, saver: CheckpointSaver) {
  let reason: { type: string; message: string } | undefined;
  const stop = (type: string, message: string) => {
    if (reason) return;
    reason = { type, message };
    job.stop();
  };
  const onAbort = () =>
    stop(
      PREEMPTED,
      `worker shutting down or activity cancelled (${String(ctx.cancellationSignal.reason ?? 'cancelled')})`,
    );
  ctx.cancellationSignal.addEventListener('abort', onAbort);
  const controls = watchControls(
    ctx,
    input.workflowId,
    {
      onPause: () => stop(PAUSED, 'paused by request'),
      onCheckpointNow: () => saver.saveInBackground(job.snapshot()),
    },
    input.checkpointRequestsServed ?? 0,
  );
  return {
    async toFailure(state: Parameters<CheckpointSaver['save']>[0]) {
      await saver.idle();
      const ckpt = await saver.save(state);
      const why = reason ?? { type: PREEMPTED, message: 'stopped' };
      return ApplicationFailure.create({
        type: why.type,
        message: `${why.message}; checkpoint saved at epoch ${ckpt.epoch} batch ${ckpt.batch}: ${ckpt.url}`,
        details: [{ ckpt }],
        nonRetryable: false,
      });
    },
    dispose() {
      ctx.cancellationSignal.removeEventListener('abort', onAbort);
      controls.stop();
    },
  };
}

function withoutEpoch(metrics: Record<string, number>): Record<string, number> {
  const { epoch: _epoch, ...rest } = metrics;
  return rest;
}
