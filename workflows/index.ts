/**
 * `durable-fit/workflows`: the workflows a durable-fit worker registers. In your own worker's
 * workflows file, `export * from 'durable-fit/workflows'` next to your own workflows.
 */
import type { trainModel } from './train-model';
export { trainModel } from './train-model';
/** The training workflow's type, for typed handles: `client.workflow.start<TrainModel>(...)`. */
export type TrainModel = typeof trainModel;
export {
  pauseSignal,
  resumeSignal,
  stopSignal,
  checkpointNowSignal,
  progressQuery,
  controlsQuery,
} from './controls';
