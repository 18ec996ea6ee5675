/**
 * trainEpoch / resumeEpoch: one epoch on the training engine, as a Temporal activity. Heartbeats on
 * a timer for as long as it runs (epoch-liveness.ts), saves intra-epoch checkpoints in the
 * background, turns a worker shutdown or a pause into a checkpoint plus a retryable failure that
 * carries it, and returns the epoch-end checkpoint. A checkpoint is heartbeated only after its
 * upload completed.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { PREEMPTED } from '../src/contract';
import { EpochMeter } from '../src/metrics/epoch-meter';
import { meteredStore } from '../src/metrics/metered-store';
import { NO_METRICS } from '../src/metrics/recorder';
import { toActivityFailure } from './boundary';
import type { ActivityDeps } from './deps';
import type { EpochJob } from './epoch-engine';
import { CheckpointSaver } from './checkpoint-saver';
import { AttemptClock } from './attempt-clock';
import { afterActivityPause } from './activity-pause';
import { divergenceOf } from '../src/training/divergence';
import { writeEpochLog } from './retention';
import { watchInterruptions } from './epoch-interruptions';
import { StartupCancelledError, startHeartbeats, untilCancelled } from './epoch-liveness';
import type {
  CheckpointRef,
  EpochResult,
  HeartbeatDetails,
  ResumeEpochInput,
  TrainEpochInput,
} from '../src/contract';

/** What the activity knows while it runs; heartbeats send it. */
interface EpochProgress {
  details: HeartbeatDetails;
  saver?: CheckpointSaver;
  meter: EpochMeter;
  /** Where this attempt's steps and seconds went (the run's goodput ledger). */
  clock: AttemptClock;
  /** The result, once the epoch-end checkpoint is durable (heartbeats carry it with that checkpoint). */
  finished?: EpochResult;
  /** Where the attempt got to: what heartbeats send and every failure carries. */
  where?: () => HeartbeatDetails;
}

/** Trains `input.epoch` to its end from `input.ckptPath` (fresh at epoch 0); resumeEpoch is the same. */
export async function trainEpoch(
  activityDeps: ActivityDeps,
  requested: TrainEpochInput,
): Promise<EpochResult> {
  const started = Date.now();
  const ctx = Context.current();
  // A second attempt exists only after Temporal's activity pause: it resumes where the pause saved.
  const input = ctx.info.attempt > 1 ? await afterActivityPause(ctx, requested) : requested;
  const batch = input.ckptPath ? (input.ckpt?.batch ?? 0) : 0;
  const startCkpt = input.ckptPath ? input.ckpt : undefined;
  // Metrics (a no-op unless the worker injects a recorder): labelled by task, never by run.
  const metrics = (activityDeps.metrics ?? NO_METRICS).withLabels({ task: input.spec.task });
  const deps = { ...activityDeps, store: meteredStore(activityDeps.store, metrics) };
  const meter = new EpochMeter(metrics, {
    startStep: startCkpt?.step ?? 0,
    ...('reason' in input ? { recoveryKind: String(input.reason) } : {}),
    // An attempt after the first follows Temporal's activity pause: a pause, not a recovery.
    ...(!('reason' in input) && ctx.info.attempt > 1 ? { recoveryKind: 'pause' } : {}),
    attempt: ctx.info.attempt,
    ...('reason' in input ? { stepsRedone: (input as ResumeEpochInput).stepsRedone } : {}),
    ...(input.goodput !== undefined ? { goodput: input.goodput } : {}),
  });
  const scheduledAt = ctx.info.currentAttemptScheduledTimestampMs;
  const clock = new AttemptClock(
    startCkpt?.step ?? 0,
    Number.isFinite(scheduledAt) && scheduledAt > 0 ? scheduledAt : started,
  );
  const state: EpochProgress = {
    details: { epoch: input.epoch, batch, batches: 0, loss: NaN },
    meter,
    clock,
  };
  // What heartbeats send, and what any failure of this attempt carries: the workflow resumes there.
  const position = (): HeartbeatDetails => {
    const ckpt = state.finished?.ckpt ?? state.saver?.latest ?? startCkpt;
    // Progress reports lag the trainer: a checkpoint already durable at a later batch of this epoch
    // says the attempt got at least that far (else the recovery reads as resuming ahead of it).
    const { details } = state;
    const batch = ckpt?.epoch === details.epoch ? Math.max(details.batch, ckpt.batch) : details.batch;
    if (ckpt) clock.reachedAtLeast(ckpt.step);
    return {
      ...details,
      batch,
      ckpt,
      attempt: clock.timing(),
      ...(state.finished ? { finished: state.finished } : {}),
      ...(deps.route ? { route: deps.route } : {}),
    };
  };
  state.where = position;
  const stopHeartbeats = startHeartbeats(ctx, () => {
    meter.heartbeat();
    return position();
  });
  try {
    const job = await startJob(deps, input, ctx, state);
    return await finishEpoch(deps, input, ctx, state, job, started);
  } catch (err) {
    if (err instanceof StartupCancelledError) throw preemptedAtStartup(err, startCkpt);
    const diverged = divergenceOf(err); // the workflow rolls back from the step it names
    // A save in flight holds a state from before the divergence: once durable it is a rollback target.
    if (diverged) await state.saver?.idle().catch(() => undefined);
    const saved = state.saver?.saved ?? [];
    throw toActivityFailure(err, diverged ? { ...position(), diverged, saved } : position());
  } finally {
    stopHeartbeats();
    meter.close();
  }
}

/** Start-up: fetch and verify the starting checkpoint, start the engine. Gives way to a shutdown. */
async function startJob(deps: ActivityDeps, input: TrainEpochInput, ctx: Context, state: EpochProgress) {
  const { spec, epoch } = input;
  // Without an injected logger, warnings go to the worker's Temporal logger with the activity's context.
  const log = deps.log ?? ((message: string, meta?: Record<string, unknown>) => ctx.log.warn(message, meta));
  const [start] = await untilCancelled(
    ctx,
    Promise.all([startFrom(deps, input), abortLeftoverUploads(deps, input, log)]),
  );
  const initWeights =
    !start && input.initFrom
      ? await untilCancelled(
          ctx,
          deps.store.loadBytes(input.initFrom.url, {
            sha256: input.initFrom.sha256,
            bytes: input.initFrom.bytes,
          }),
        )
      : undefined;
  const saver = new CheckpointSaver(
    deps.store,
    spec.runName ?? input.workflowId,
    start?.ref,
    (err) => log('intra-epoch checkpoint failed; training goes on', { error: String(err) }),
    log,
  );
  state.saver = saver;
  let lastSave = { at: Date.now(), step: start?.ref.step ?? 0 };
  let job: EpochJob | undefined = undefined;
  const starting = deps.engine.start({
    config: {
      task: spec.task,
      hparams: spec.hparams,
      seed: spec.seed,
      batchSize: spec.batchSize,
      epochs: spec.epochs,
      ...(spec.divergence ? { divergence: spec.divergence } : {}),
      ...(input.skips?.length ? { skips: input.skips } : {}),
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
    onProgress(p) {
      state.details = { epoch: p.epoch, batch: p.batch + 1, batches: p.batches, loss: p.loss };
      state.meter.progress(p.step, p.loss); // p.step: steps trained so far, this batch included
      state.clock.progress(p.step);
      const running = job;
      if (running && isSaveDue(spec.checkpoint, lastSave, p.step + 1) && !saver.busy) {
        lastSave = { at: Date.now(), step: p.step + 1 };
        saver.saveInBackground(() => state.clock.stall(running.snapshot()));
      }
    },
  });
  // A job that starts after a shutdown began trains nothing: stop it at its first batch boundary.
  job = await untilCancelled(ctx, starting, (late) => {
    late.stop();
    late.done.catch(() => undefined);
  });
  return job;
}

/** Trains to the end of the epoch (or an interruption) and saves the epoch-end checkpoint. */
async function finishEpoch(
  deps: ActivityDeps,
  input: TrainEpochInput,
  ctx: Context,
  state: EpochProgress,
  job: EpochJob,
  started: number,
): Promise<EpochResult> {
  const saver = state.saver as CheckpointSaver;
  const interrupt = watchInterruptions(ctx, input, job, saver);
  try {
    const outcome = await job.done;
    await state.clock.stall(saver.idle());
    if (outcome.stopped) throw await interrupt.toFailure(outcome.state, state.where);
    const ckpt = await state.clock.stall(saver.save(outcome.state));
    state.clock.reachedAtLeast(ckpt.step);
    // Set in the same turn as the save's end (no timer runs between): no heartbeat or failure
    // carries the epoch-end checkpoint without the epoch's result.
    const result: EpochResult = {
      epoch: input.epoch,
      step: ckpt.step,
      ckpt,
      metrics: withoutEpoch(outcome.metrics ?? {}),
      weightsSha256: outcome.state.meta.weightsSha256,
      backend: outcome.state.meta.backend.name,
      durationMs: Date.now() - started,
      ...(deps.route ? { route: deps.route } : {}),
      attempt: state.clock.timing(),
    };
    state.finished = result;
    state.details = { ...state.details, batch: state.details.batches };
    job.markWarm(ckpt);
    state.meter.heartbeat();
    ctx.heartbeat({ ...state.details, ckpt, finished: result, ...(deps.route ? { route: deps.route } : {}) });
    // The run's per-epoch log entry, here rather than in a retention activity the workflow runs
    // only when a retention policy is set. A failed write loses a log line, never the epoch.
    await writeEpochLog(deps.store, input.spec.runName ?? input.workflowId, result).catch((err: unknown) =>
      ctx.log.warn('epoch log entry not written', { epoch: input.epoch, error: String(err) }),
    );
    state.meter.finished(Date.now() - started);
    return result;
  } finally {
    interrupt.dispose();
  }
}

/** A shutdown before training began: nothing new to save; resume where this attempt was to start. */
function preemptedAtStartup(err: StartupCancelledError, ckpt: CheckpointRef | undefined) {
  return ApplicationFailure.create({
    type: PREEMPTED,
    message:
      `worker shutting down or activity cancelled before training began (${err.reason}); ` +
      `nothing was lost: the run resumes from ${ckpt?.url ?? 'the start'}`,
    details: [{ ckpt }],
    nonRetryable: false,
  });
}

/**
 * A resume follows an attempt that died or stopped, perhaps in the middle of a multipart upload
 * whose parts nobody would ever complete. No other writer of this run is alive now, and this
 * attempt uploads nothing before its engine starts, so abort them here. Never fatal.
 */
async function abortLeftoverUploads(
  deps: ActivityDeps,
  input: TrainEpochInput,
  log: (message: string, meta?: Record<string, unknown>) => void,
): Promise<void> {
  if (!('reason' in input)) return;
  const runName = input.spec.runName ?? input.workflowId;
  try {
    const aborted = await deps.store.abortIncompleteUploads(runName);
    if (aborted) log(`aborted ${aborted} incomplete upload(s) left by an earlier attempt`, { runName });
  } catch (err) {
    log('could not abort incomplete uploads; MinIO expires them later', { error: String(err) });
  }
}

/**
 * The starting checkpoint. Its bytes are downloaded and verified (size and SHA-256) before the
 * engine sees them, unless the engine holds a warm session saved as exactly that checkpoint (it
 * wrote it): then the engine continues it, or loads the bytes through `load` if it cannot.
 */
async function startFrom(deps: ActivityDeps, input: TrainEpochInput) {
  const ref = input.ckpt;
  if (!input.ckptPath || !ref) return undefined;
  if (ref.url !== input.ckptPath)
    throw new Error(`ckptPath ${input.ckptPath} does not match ckpt ${ref.url}`);
  const load = () => deps.store.loadBytes(ref.url, { sha256: ref.sha256, bytes: ref.bytes });
  if (deps.engine.isWarm(ref.sha256)) return { ref, load };
  return { ref, bytes: await load(), load };
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

function withoutEpoch(metrics: Record<string, number>): Record<string, number> {
  const { epoch: _epoch, ...rest } = metrics;
  return rest;
}
