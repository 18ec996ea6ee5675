/**
 * The sweep's handlers: `pause`, `resume` and `stop` (the training run's own signals, so the same
 * CLI commands work on a sweep) are kept in the sweep state and forwarded to every running trial by
 * its child handle; `sweepProgress` answers with the trials, lineage and best trial.
 */
import * as wf from '@temporalio/workflow';
import type { ChildWorkflowHandle } from '@temporalio/workflow';
import { pauseSignal, resumeSignal, stopSignal } from '../src/contract';
import type { SweepProgress, SweepState } from '../src/contract/sweep';
import { sweepProgressQuery } from '../src/contract/sweep';

/** Running trial runs by workflow id; the handlers signal them. */
export type RunningTrials = Map<string, ChildWorkflowHandle<wf.Workflow>>;

/** `changed` runs after each control signal (to publish the sweep's status). */
export function setupSweepControls(
  state: SweepState,
  progress: () => SweepProgress,
  changed: () => void,
): RunningTrials {
  const running: RunningTrials = new Map();
  const forward = (signal: wf.SignalDefinition) => {
    for (const [id, child] of running)
      child
        .signal(signal)
        .catch((err: unknown) => wf.log.warn(`could not signal trial ${id}: ${String(err)}`));
  };
  wf.setHandler(pauseSignal, () => {
    state.paused = true;
    forward(pauseSignal);
    changed();
  });
  wf.setHandler(resumeSignal, () => {
    state.paused = false;
    forward(resumeSignal);
    changed();
  });
  wf.setHandler(stopSignal, () => {
    state.stopRequested = true;
    forward(stopSignal);
  });
  wf.setHandler(sweepProgressQuery, progress);
  return running;
}

/** A trial started while the sweep was being paused or stopped gets the signal it missed. */
export async function catchUp(state: SweepState, child: ChildWorkflowHandle<wf.Workflow>): Promise<void> {
  if (state.stopRequested) await child.signal(stopSignal);
  else if (state.paused) await child.signal(pauseSignal);
}
