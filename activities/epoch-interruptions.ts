/** How a running epoch is interrupted: worker shutdown, pause and checkpoint-now. */
import { ApplicationFailure } from '@temporalio/activity';
import type { Context } from '@temporalio/activity';
import { PAUSED, PREEMPTED } from '../src/contract';
import type { CheckpointSaver } from './checkpoint-saver';
import { watchControls } from './controls-watch';
import type { EpochJob } from './epoch-engine';
import type { AttemptTiming, CheckpointRef, TrainEpochInput } from '../src/contract';

/**
 * Cancellation (worker shutdown / preemption) and the workflow's pause and checkpoint-now controls.
 * Either way the job stops at a batch boundary, the state there is saved, and the activity fails
 * with a retryable failure whose details carry that durable checkpoint. A hung store (a save past
 * its S3 deadline) stops the job too, and then nothing more is saved: the failure is an
 * infrastructure one carrying the newest durable checkpoint. So a stop or pause waits at most for
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
  const onAbort = () =>
    stop(
      PREEMPTED,
      `worker shutting down or activity cancelled (${String(ctx.cancellationSignal.reason ?? 'cancelled')})`,
    );
  ctx.cancellationSignal.addEventListener('abort', onAbort);
  if (ctx.cancellationSignal.aborted) onAbort(); // cancelled while the job was being started
  saver.onHung(() => job.stop()); // toFailure then reports the hung store
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
    /** `attempt`: what the attempt measured about itself (goodput ledger), carried in the details. */
    async toFailure(state: Parameters<CheckpointSaver['save']>[0], attempt?: () => AttemptTiming) {
      await saver.idle();
      if (saver.hung) return storeHungFailure(saver.hung, saver.latest, attempt?.());
      const ckpt = await saver.save(state);
      const why = reason ?? { type: PREEMPTED, message: 'stopped' };
      return ApplicationFailure.create({
        type: why.type,
        message: `${why.message}; checkpoint saved at epoch ${ckpt.epoch} batch ${ckpt.batch}: ${ckpt.url}`,
        details: [{ ckpt, ...(attempt ? { attempt: attempt() } : {}) }],
        nonRetryable: false,
      });
    },
    dispose() {
      ctx.cancellationSignal.removeEventListener('abort', onAbort);
      controls.stop();
    },
  };
}

/** The store hangs: a retryable failure (infrastructure) naming the newest durable checkpoint. */
function storeHungFailure(err: Error, ckpt: CheckpointRef | undefined, attempt?: AttemptTiming) {
  return ApplicationFailure.create({
    type: err.name,
    message: `${err.message} Newest durable checkpoint: ${ckpt?.url ?? 'none (the run restarts the epoch)'}`,
    details: [{ ckpt, ...(attempt ? { attempt } : {}) }],
    nonRetryable: false,
  });
}
