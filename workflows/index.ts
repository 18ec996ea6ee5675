/**
 * `durable-fit/workflows`: the workflows a durable-fit worker registers. In your own worker's
 * workflows file, `export * from 'durable-fit/workflows'` next to your own workflows.
 */
export { trainModel } from './train-model';
export type { TrainModel } from '../src/contract';
export {
  pauseSignal,
  resumeSignal,
  stopSignal,
  checkpointNowSignal,
  progressQuery,
  controlsQuery,
} from '../src/contract';
export { sweep } from './sweep';
