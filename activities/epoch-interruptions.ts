/** How a running epoch is interrupted: worker shutdown, pause and checkpoint-now. */
import { ApplicationFailure } from '@temporalio/activity';
import type { Context } from '@temporalio/activity';
import { PAUSED, PREEMPTED } from '../src/contract';
import type { CheckpointSaver } from './checkpoint-saver';
import { watchControls } from './controls-watch';
import type { EpochJob } from './epoch-engine';
import type { TrainEpochInput } from '../src/contract';

/**
 * Cancellation (worker shutdown / preemption) and the workflow's pause and checkpoint-now controls.
 * Either way the job stops at a batch boundary, the state there is saved, and the activity fails
 * with a retryable failure whose details carry that durable checkpoint.
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
