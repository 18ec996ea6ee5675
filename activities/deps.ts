/** What every activity is given: the checkpoint store, the training engine, and this worker's route. */
import type { CheckpointStore } from '../src/checkpoint/store';
import type { MetricsRecorder } from '../src/metrics/recorder';
import type { EpochEngine } from './epoch-engine';

export interface ActivityDeps {
  store: CheckpointStore;
  engine: EpochEngine;
  log?: (message: string, meta?: Record<string, unknown>) => void;
  /**
   * This worker's backend queue (`workerRoute` in src/training/routing.ts). When set, `prepareRun`
   * routes each run's epochs to one backend queue; absent, epochs go to the run's task queue.
   */
  route?: string;
  /** Where epochs report steps, loss, checkpoint I/O, recoveries and heartbeat lag. @default none */
  metrics?: MetricsRecorder;
}
