/** Signals, queries and updates that steer a running training workflow. */
import * as wf from '@temporalio/workflow';
import type { ControlState } from '../activities/types';
import type { Progress } from './run-record';

/** Pause at the next batch boundary (the epoch activity saves a checkpoint and stops). */
export const pauseSignal = wf.defineSignal('pause');
/** Continue a paused run from the checkpoint saved when it paused. */
export const resumeSignal = wf.defineSignal('resume');
/**
 * End the run: a running epoch finishes (and checkpoints) first; a paused or backing-off run ends
 * at once at its last durable checkpoint. The result's status is `stopped`.
 */
export const stopSignal = wf.defineSignal('stop');
/** Save an intra-epoch checkpoint now (the running epoch activity picks it up within seconds). */
export const checkpointNowSignal = wf.defineSignal('checkpointNow');
/** Status, epoch, last checkpoint, metrics per epoch and recoveries. */
export const progressQuery = wf.defineQuery<Progress>('progress');
/** Polled by the running epoch activity. */
export const controlsQuery = wf.defineQuery<ControlState>('controls');

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
