/**
 * What every activity is given: the checkpoint I/O port, the run folders, the training engine, and
 * this worker's route.
 */
import type { CheckpointIO } from '../src/checkpoint/checkpoint-io';
import type { RunFolder } from '../src/checkpoint/run-folder';
import type { DatasetStore } from '../src/data/dataset-store';
import type { MetricsRecorder } from '../src/metrics/recorder';
import type { EpochEngine } from './epoch-engine';

export interface ActivityDeps {
  /** Single checkpoints: save (create-only), verified load, stat, delete. */
  store: CheckpointIO;
  /** The run folders of the same bucket: listings, logs, pins, upload clean-up (`createStorage`). */
  runs: RunFolder;
  engine: EpochEngine;
  /**
   * The bucket's datasets: `prepareRun` resolves a run's dataset reference to one version here.
   * Absent: a reference is passed on unresolved and each trainer resolves it (a prefix is refused).
   */
  datasets?: DatasetStore;
  log?: (message: string, meta?: Record<string, unknown>) => void;
  /**
   * This worker's backend queue (`workerRoute` in src/training/routing.ts). When set, `prepareRun`
   * routes each run's epochs to one backend queue; absent, epochs go to the run's task queue.
   */
  route?: string;
  /** The object store's address (S3 endpoint) this worker uses: results name it as their site. */
  site?: string;
  /** Where epochs report steps, loss, checkpoint I/O, recoveries and heartbeat lag. @default none */
  metrics?: MetricsRecorder;
}
