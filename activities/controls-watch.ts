/** Polls the workflow's `controls` query so a running epoch sees pause and checkpoint-now requests. */
import type { Context } from '@temporalio/activity';
import type { ControlState } from '../src/contract';

export interface ControlHandlers {
  onPause(): void;
  onCheckpointNow(): void;
}

/**
 * @param served checkpoint requests the workflow already saw satisfied (a higher count: save now)
 * @param intervalMs how often to ask the workflow. @default 2000
 */
export function watchControls(
  ctx: Context,
  workflowId: string,
  handlers: ControlHandlers,
  served: number,
  intervalMs = 2000,
) {
  let seenRequests = served;
  let client: Context['client'] | undefined;
  try {
    client = ctx.client;
  } catch {
    return { stop() {} }; // no client (e.g. a mock activity environment): no remote controls
  }
  const handle = client.workflow.getHandle(workflowId);
  let busy = false;
  let stopped = false;
  const poll = async () => {
    if (busy) return;
    busy = true;
    try {
      const state = await handle.query<ControlState>('controls');
      if (stopped) return; // an answer that arrives after the attempt stopped watching: its job is gone
      if (state.paused) handlers.onPause();
      if (state.checkpointRequests > seenRequests) handlers.onCheckpointNow();
      seenRequests = state.checkpointRequests;
    } catch {
      // A missed poll only delays a control; the next one retries.
    } finally {
      busy = false;
    }
  };
  void poll();
  const timer = setInterval(() => void poll(), intervalMs);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
