/** Signals and queries that steer a running training workflow; the client and the workflow share them. */
import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { CheckpointRef, ControlState } from './activities';
import type { Progress } from './run-record';

/** Pause at the next batch boundary (the epoch activity saves a checkpoint and stops). */
export const pauseSignal = defineSignal('pause');
/** Continue a paused run from the checkpoint saved when it paused. */
export const resumeSignal = defineSignal('resume');
/**
 * End the run: a running epoch finishes (and checkpoints) first; a paused or backing-off run ends
 * at once at its last durable checkpoint. The result's status is `stopped`.
 */
export const stopSignal = defineSignal('stop');
/** Save an intra-epoch checkpoint now (the running epoch activity picks it up within seconds). */
export const checkpointNowSignal = defineSignal('checkpointNow');
/**
 * Sent by an epoch attempt stopped by Temporal's own activity pause, with the checkpoint it saved at
 * the batch boundary (`paused: true`), and by the attempt after `temporal activity unpause` as it
 * resumes from it (`paused: false`). The run shows `paused` in between.
 */
export const attemptPausedSignal = defineSignal<[AttemptPaused]>('attemptPaused');
export interface AttemptPaused {
  paused: boolean;
  ckpt?: CheckpointRef;
}
/** Status, epoch, last checkpoint, metrics per epoch and recoveries. */
export const progressQuery = defineQuery<Progress>('progress');
/** Polled by the running epoch activity. */
export const controlsQuery = defineQuery<ControlState>('controls');
