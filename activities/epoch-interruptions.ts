/**
 * How a running training attempt (an epoch's or a shard's) is interrupted: worker shutdown or
 * cancellation, the run's pause, Temporal's activity pause, checkpoint-now, and a failed save.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { Context } from '@temporalio/activity';
import { ACTIVITY_PAUSED, attemptPausedSignal, PAUSED, PREEMPTED } from '../src/contract';
import type { CheckpointSaver } from './checkpoint-saver';
import { watchControls } from './controls-watch';
import type { EpochJob } from './epoch-engine';
import type { AttemptPosition, CheckpointRef } from '../src/contract';
import type { TrainingState } from '../src/state';

/** What the watcher needs to know of the attempt it watches. */
export interface InterruptionOptions {
  /** The run's workflow: its `controls` query says pause and checkpoint-now. */
  workflowId: string;
  /** Checkpoint requests already served when the attempt started (a higher count: save now). */
  checkpointRequestsServed?: number;
  /**
   * Temporal's activity pause stops the attempt as `ActivityPaused` and tells the workflow (its next
   * attempt resumes from the pause checkpoint: activity-pause.ts). Off: it is a preemption.
   */
  activityPause: boolean;
  /** A state capture at the next batch boundary (a checkpoint-now), timed as the attempt wants. */
  capture(): Promise<TrainingState>;
  /** What the failure says after `ckpt` was saved where the job stopped. */
  stoppedMessage(why: { type: string; message: string }, ckpt: CheckpointRef): string;
}

/**
 * Cancellation (worker shutdown / preemption) and the workflow's pause and checkpoint-now controls.
 * Either way the job stops at a batch boundary, the state there is saved, and the activity fails
 * with a retryable failure whose details carry that durable checkpoint. A failed background save
 * (the store refused, erred, or hangs past its S3 deadline) stops the job too, and then nothing more
 * is saved: the failure is an infrastructure one carrying the newest durable checkpoint. So a stop
 * or pause waits at most for the deadline of the one save in flight, never for a hung call.
 */
export function watchInterruptions(
  ctx: Context,
  options: InterruptionOptions,
  job: EpochJob,
  saver: CheckpointSaver,
) {
  let reason: { type: string; message: string } | undefined;
  const stop = (type: string, message: string) => {
    if (reason) return;
    reason = { type, message };
    job.stop();
  };
  const onAbort = () => {
    // Temporal's own activity pause (CLI, Web UI, API) is a pause, not a preemption.
    if (options.activityPause && cancellationDetailsOf(ctx)?.paused)
      return stop(
        ACTIVITY_PAUSED,
        "paused with Temporal's activity pause (temporal activity pause, or the UI)",
      );
    stop(
      PREEMPTED,
      `worker shutting down or activity cancelled (${String(ctx.cancellationSignal.reason ?? 'cancelled')})`,
    );
  };
  ctx.cancellationSignal.addEventListener('abort', onAbort);
  if (ctx.cancellationSignal.aborted) onAbort(); // cancelled while the job was being started
  saver.onTrouble(() => job.stop()); // toFailure then reports the failed save
  let ended = false;
  void job.done.then(
    () => (ended = true),
    () => (ended = true),
  );
  const controls = watchControls(
    ctx,
    options.workflowId,
    {
      onPause: () => stop(PAUSED, 'paused by request'),
      // After the job ended there is nothing to snapshot: its end checkpoint serves the request.
      onCheckpointNow: () => {
        if (!ended) saver.requestSave(() => options.capture());
      },
    },
    options.checkpointRequestsServed ?? 0,
  );
  return {
    /**
     * The failure of a job that stopped with `state`: saved there, or the failed save reported.
     * `where`: where the attempt got to (its heartbeat details), carried in the failure's details.
     */
    async toFailure(state: TrainingState, where?: () => AttemptPosition) {
      await saver.idle();
      if (saver.failed) return storeFailure(saver.failed, saver.latest, where?.());
      const ckpt = await saver.save(state);
      const why = reason ?? { type: PREEMPTED, message: 'stopped' };
      if (why.type === ACTIVITY_PAUSED) await tellPaused(ctx, options.workflowId, { ...where?.(), ckpt });
      return ApplicationFailure.create({
        type: why.type,
        message: options.stoppedMessage(why, ckpt),
        details: [{ ...where?.(), ckpt }],
        nonRetryable: false,
      });
    },
    dispose() {
      ctx.cancellationSignal.removeEventListener('abort', onAbort);
      controls.stop();
    },
  };
}

/** Why the activity was cancelled, when the SDK says (absent in a mock environment). */
function cancellationDetailsOf(ctx: Context) {
  try {
    return ctx.cancellationDetails;
  } catch {
    return undefined;
  }
}

/**
 * Temporal holds a paused activity and runs its next attempt after `unpause`, with this attempt's
 * last heartbeat details: heartbeat the pause checkpoint, and tell the workflow (the run shows
 * `paused`, and its position is that checkpoint). Best effort: the next attempt also asks the workflow.
 */
async function tellPaused(
  ctx: Context,
  workflowId: string,
  details: Partial<AttemptPosition>,
): Promise<void> {
  try {
    ctx.heartbeat(details);
    await ctx.client.workflow
      .getHandle(workflowId)
      .signal(attemptPausedSignal, { paused: true, ckpt: details.ckpt });
  } catch (err) {
    ctx.log.warn('could not tell the workflow that the attempt paused', { error: String(err) });
  }
}

/**
 * A save failed (the store refused, erred or hangs): a retryable failure (infrastructure) naming the
 * newest durable checkpoint, with where the attempt got to, so the steps trained past it are counted.
 */
function storeFailure(err: Error, ckpt: CheckpointRef | undefined, where?: AttemptPosition) {
  const type = err.name === 'Error' || !err.name ? 'CheckpointSaveError' : err.name;
  const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return ApplicationFailure.create({
    type,
    message:
      `a checkpoint save failed, so training stopped rather than run on past the last durable checkpoint: ${err.message}${cause}. ` +
      `Newest durable checkpoint: ${ckpt?.url ?? 'none (the run restarts the epoch)'}`,
    details: [{ ...where, ckpt }],
    nonRetryable: false,
  });
}
