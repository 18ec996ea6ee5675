/** Installs the handlers of the training workflow's signals and queries (defined in src/contract). */
import * as wf from '@temporalio/workflow';
import type { ControlState, Progress } from '../src/contract';
import {
  checkpointNowSignal,
  controlsQuery,
  pauseSignal,
  progressQuery,
  resumeSignal,
  stopSignal,
} from '../src/contract';

/**
 * Installs the handlers; returns the live control state the workflow loop reads, starting from the
 * state carried across continue-as-new.
 */
export function setupControls(progress: () => Progress, carried?: ControlState): ControlState {
  const state: ControlState = { paused: false, stopRequested: false, checkpointRequests: 0, ...carried };
  wf.setHandler(pauseSignal, () => void (state.paused = true));
  wf.setHandler(resumeSignal, () => void (state.paused = false));
  wf.setHandler(stopSignal, () => void (state.stopRequested = true));
  wf.setHandler(checkpointNowSignal, () => void state.checkpointRequests++);
  wf.setHandler(progressQuery, progress);
  wf.setHandler(controlsQuery, () => ({ ...state }));
  return state;
}
