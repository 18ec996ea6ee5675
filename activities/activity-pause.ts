/**
 * Temporal's own activity pause (`temporal activity pause`, the Web UI) on an epoch attempt: the
 * attempt stops at a batch boundary, saves a checkpoint and tells the workflow (epoch-interruptions.ts);
 * the server holds the activity until `unpause`, then runs a second attempt with the same input. Epoch
 * activities are never retried otherwise (one attempt each), so an attempt after the first resumes
 * from the newest checkpoint of its epoch — the input's, the last heartbeat's, or the workflow's
 * position (which the pause recorded) — never from the input's older one, and says it resumed.
 */
import type { Context } from '@temporalio/activity';
import { attemptPausedSignal, progressQuery } from '../src/contract';
import type { CheckpointRef, HeartbeatDetails, Progress, TrainEpochInput } from '../src/contract';

export async function afterActivityPause<I extends TrainEpochInput>(ctx: Context, input: I): Promise<I> {
  const handle = ctx.client.workflow.getHandle(input.workflowId);
  const position = await handle
    .query<Progress>(progressQuery)
    .then((p) => p.lastCheckpoint)
    .catch(() => undefined); // the heartbeat details still have it
  const heartbeat = (ctx.info.heartbeatDetails as Partial<HeartbeatDetails> | undefined)?.ckpt;
  let best: CheckpointRef | undefined = input.ckpt;
  for (const c of [heartbeat, position])
    if (c && c.epoch === input.epoch && c.step > (best?.step ?? -1)) best = c;
  await handle
    .signal(attemptPausedSignal, { paused: false, ...(best ? { ckpt: best } : {}) })
    .catch((err: unknown) =>
      ctx.log.warn('could not tell the workflow the attempt resumed', { error: String(err) }),
    );
  if (!best || best === input.ckpt) return input;
  ctx.log.info('resuming after an activity pause from its checkpoint', { ckpt: best.url });
  const { initFrom: _initFrom, ...rest } = input; // the checkpoint holds the fork's weights already
  return { ...rest, ckptPath: best.url, ckpt: best } as I;
}
