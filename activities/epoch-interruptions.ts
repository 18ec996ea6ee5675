/** How a running epoch is interrupted: worker shutdown, pause and checkpoint-now. */
import { ApplicationFailure } from '@temporalio/activity';
import type { Context } from '@temporalio/activity';
import { ACTIVITY_PAUSED, attemptPausedSignal, PAUSED, PREEMPTED } from '../src/contract';
import type { CheckpointSaver } from './checkpoint-saver';
import { watchControls } from './controls-watch';
import type { EpochJob } from './epoch-engine';
import type { CheckpointRef, HeartbeatDetails, TrainEpochInput } from '../src/contract';

/**
 * Cancellation (worker shutdown / preemption) and the workflow's pause and checkpoint-now controls.
 * Either way the job stops at a batch boundary, the state there is saved, and the activity fails
 * with a retryable failure whose details carry that durable checkpoint. A failed background save
 * (the store refused, erred, or hangs past its S3 deadline) stops the job too, and then nothing more
 * is saved: the failure is an infrastructure one carrying the newest durable checkpoint. So a stop or pause waits at most for
 * the deadline of the one save in flight, never for a hung call.
 */
export function watchInterruptions(
  ctx: Context,
  input: TrainEpochInput,
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
    if (cancellationDetailsOf(ctx)?.paused)
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
    input.workflowId,
    {
      onPause: () => stop(PAUSED, 'paused by request'),
      // After the job ended there is nothing to snapshot: its epoch-end checkpoint serves the request.
      onCheckpointNow: () => {
        if (!ended) saver.requestSave(() => job.snapshot());
      },
    },
    input.checkpointRequestsServed ?? 0,
  );
  return {
    /** `where`: where the attempt got to (its heartbeat details), carried in the failure's details. */
    async toFailure(state: Parameters<CheckpointSaver['save']>[0], where?: () => HeartbeatDetails) {
      await saver.idle();
      if (saver.failed) return storeFailure(saver.failed, saver.latest, where?.());
      const ckpt = await saver.save(state);
      const why = reason ?? { type: PREEMPTED, message: 'stopped' };
      if (why.type === ACTIVITY_PAUSED) await tellPaused(ctx, input.workflowId, { ...where?.(), ckpt });
      return ApplicationFailure.create({
        type: why.type,
        message: `${why.message}; checkpoint saved at epoch ${ckpt.epoch} batch ${ckpt.batch}: ${ckpt.url}`,
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
  details: Partial<HeartbeatDetails>,
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
function storeFailure(err: Error, ckpt: CheckpointRef | undefined, where?: HeartbeatDetails) {
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
