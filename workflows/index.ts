// The workflows a durable-fit worker registers (its `workflowsPath`).
export { trainModel } from './train-model';
export {
  pauseSignal,
  resumeSignal,
  stopSignal,
  checkpointNowSignal,
  progressQuery,
  controlsQuery,
} from './controls';
