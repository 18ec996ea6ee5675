/**
 * A guard for the workflow's main loop: every pass must have waited for something that blocks
 * (an activity, a timer, a signal). A pass that waited for nothing means a condition that is
 * already true is being awaited again: left alone, the loop spins in microtasks, starves the
 * worker and crashes it ("async hook stack has become corrupted"), and then every worker that picks
 * the workflow up. The history length only grows when a workflow task completed, so two passes
 * at the same length waited for nothing. Deterministic: replay sees the same lengths.
 */
import * as wf from '@temporalio/workflow';

/** Thrown (as a workflow task failure, retried after a fixed worker is deployed) instead of spinning. */
export class WorkflowLoopError extends Error {
  override readonly name = 'WorkflowLoopError';
}

/** Returns the check to call at the top of every pass of the loop. */
export function loopGuard(): () => void {
  let last = -1;
  return () => {
    const length = wf.workflowInfo().historyLength;
    if (length === last) {
      throw new WorkflowLoopError(
        `workflow loop made a pass without waiting for anything (history length ${length}); ` +
          'this is a durable-fit bug: report it. The workflow task is retried, so a fixed worker continues the run.',
      );
    }
    last = length;
  };
}
