/**
 * One training attempt, an epoch's (`trainEpoch`, `resumeEpoch`) or a data-parallel shard's
 * (`trainShard`): the one loop both run, with what differs between them in their `AttemptTarget`
 * (attempt-target.ts). It heartbeats on a timer for as long as it runs (epoch-liveness.ts), saves
 * checkpoints in the background by the run's checkpoint policy and on checkpoint-now (one
 * `CheckpointSaver`), turns a worker shutdown or a pause into a checkpoint plus a retryable failure
 * that carries it (epoch-interruptions.ts), stops when a save failed, reports steps, loss, checkpoint
 * I/O and recoveries (`EpochMeter`, the metered store) and its timing (`AttemptClock`), and returns
 * the target's result once its end checkpoint is durable. A checkpoint is heartbeated only after its
 * upload completed, and every failure carries where the attempt got to.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { PREEMPTED } from '../src/contract';
import type { AttemptPosition, CheckpointRef } from '../src/contract';
import type { TrainingSpec } from '../src/spec';
import { EpochMeter } from '../src/metrics/epoch-meter';
import { meteredStore } from '../src/metrics/metered-store';
import { NO_METRICS } from '../src/metrics/recorder';
import { divergenceOf } from '../src/training/divergence';
import { AttemptClock } from './attempt-clock';
import type { AttemptTarget, AttemptTools } from './attempt-target';
import { toActivityFailure } from './boundary';
import { CheckpointSaver } from './checkpoint-saver';
import type { ActivityDeps } from './deps';
import type { BatchProgress, EpochJob } from './epoch-engine';
import { watchInterruptions } from './epoch-interruptions';
import { StartupCancelledError, startHeartbeats, untilCancelled } from './epoch-liveness';

/** Runs one attempt of `target` in the current activity. */
export async function runAttempt<R, P extends AttemptPosition>(
  activityDeps: ActivityDeps,
  target: AttemptTarget<R, P>,
): Promise<R> {
  const started = Date.now();
  const ctx = Context.current();
  // Metrics (a no-op unless the worker injects a recorder): labelled by task, never by run.
  const metrics = (activityDeps.metrics ?? NO_METRICS).withLabels({ task: target.task });
  const deps = { ...activityDeps, store: meteredStore(activityDeps.store, metrics) };
  // Without an injected logger, warnings go to the worker's Temporal logger with the activity's context.
  const log = deps.log ?? ((message: string, meta?: Record<string, unknown>) => ctx.log.warn(message, meta));
  const tools: AttemptTools = { deps, log, metrics, untilCancelled: (work) => untilCancelled(ctx, work) };
  const meter = new EpochMeter(metrics, {
    startStep: target.startStep,
    attempt: ctx.info.attempt,
    ...target.recovery,
  });
  const scheduledAt = ctx.info.currentAttemptScheduledTimestampMs;
  const clock = new AttemptClock(
    target.startStep,
    Number.isFinite(scheduledAt) && scheduledAt > 0 ? scheduledAt : started,
  );
  // The log line's words are what operators (and the S3 fault matrix) look for.
  const saver = new CheckpointSaver(target.writer(tools), target.startCkpt, (err) =>
    log('intra-epoch checkpoint failed; training stops at the next batch boundary', { error: String(err) }),
  );
  let details: P = target.details;
  let finished: R | undefined;
  // What heartbeats send, and what any failure of this attempt carries: the workflow resumes there.
  const position = (): P => {
    const ended = finished === undefined ? undefined : target.finished(finished);
    const ckpt = ended?.ckpt ?? saver.latest ?? target.startCkpt;
    // Progress reports lag the trainer: a checkpoint already durable at a later batch of this epoch
    // says the attempt got at least that far (else the recovery reads as resuming ahead of it).
    const batch = ckpt?.epoch === details.epoch ? Math.max(details.batch, ckpt.batch) : details.batch;
    if (ckpt) clock.reachedAtLeast(ckpt.step);
    return {
      ...details,
      batch,
      ckpt,
      attempt: clock.timing(),
      ...ended,
      ...(deps.route ? { route: deps.route } : {}),
    };
  };
  const stopHeartbeats = startHeartbeats(ctx, () => {
    meter.heartbeat();
    return position();
  });
  try {
    const job = await startJob(ctx, target, tools, saver, clock, (p) => {
      details = { ...details, epoch: p.epoch, batch: p.batch + 1, batches: p.batches, loss: p.loss };
      meter.progress(p.step, p.loss); // p.step: steps trained so far, this batch included
      clock.progress(p.step);
    });
    const interrupt = watchInterruptions(
      ctx,
      { ...target, capture: () => clock.stall(job.snapshot()) },
      job,
      saver,
    );
    try {
      const outcome = await job.done;
      await clock.stall(saver.idle());
      if (outcome.stopped) throw await clock.stall(interrupt.toFailure(outcome.state, position));
      const ckpt = await clock.stall(target.saveEnd(saver, outcome.state, tools));
      clock.reachedAtLeast(ckpt.step);
      const durationMs = Date.now() - started;
      // Set in the same turn as the save's end (no timer runs between): no heartbeat or failure
      // carries the end checkpoint without the result.
      const timing = clock.timing();
      const where = {
        ...(deps.route ? { route: deps.route } : {}),
        ...(deps.site ? { site: deps.site } : {}),
      };
      const result = target.result({ outcome, ckpt, timing, durationMs, ...where });
      finished = result;
      details = { ...details, batch: details.batches };
      meter.heartbeat();
      ctx.heartbeat({ ...position(), ckpt, ...target.finished(result) });
      await target.afterEnd?.(result, job, tools);
      meter.finished(durationMs);
      return result;
    } finally {
      interrupt.dispose();
    }
  } catch (err) {
    if (err instanceof StartupCancelledError) throw preemptedAtStartup(err, target.startCkpt);
    const diverged = divergenceOf(err); // the workflow rolls back from the step it names
    // A save in flight holds a state from before the divergence: once durable it is a rollback target.
    if (diverged) await saver.idle().catch(() => undefined);
    throw toActivityFailure(err, diverged ? { ...position(), diverged, saved: saver.saved } : position());
  } finally {
    stopHeartbeats();
    meter.close();
  }
}

/**
 * Start-up: the target fetches and verifies its start state, then the engine starts; both give way
 * to a shutdown. From then on each batch may start a background save by the checkpoint policy.
 */
async function startJob<R, P extends AttemptPosition>(
  ctx: Context,
  target: AttemptTarget<R, P>,
  tools: AttemptTools,
  saver: CheckpointSaver,
  clock: AttemptClock,
  onProgress: (p: BatchProgress) => void,
): Promise<EpochJob> {
  const request = await target.prepare(tools);
  let lastSave = { at: Date.now(), step: target.startStep };
  let job: EpochJob | undefined = undefined;
  const starting = tools.deps.engine.start({
    ...request,
    onProgress(p) {
      onProgress(p);
      const running = job;
      if (!running || saver.busy || !isSaveDue(target.checkpoint, lastSave, p.step + 1)) return;
      if (target.maySaveAfter && !target.maySaveAfter(p)) return;
      lastSave = { at: Date.now(), step: p.step + 1 };
      saver.saveInBackground(() => clock.stall(running.snapshot()));
    },
  });
  // A job that starts after a shutdown began trains nothing: stop it at its first batch boundary.
  job = await untilCancelled(ctx, starting, (late) => {
    late.stop();
    late.done.catch(() => undefined);
  });
  return job;
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

function isSaveDue(policy: TrainingSpec['checkpoint'], last: { at: number; step: number }, step: number) {
  const byBatches = policy.everyBatches > 0 && step - last.step >= policy.everyBatches;
  const bySeconds = policy.everySeconds > 0 && Date.now() - last.at >= policy.everySeconds * 1000;
  return byBatches || bySeconds;
}
