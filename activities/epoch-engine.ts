/**
 * The port between the epoch activity and the training engine. The activity needs only this: start
 * an epoch from verified checkpoint bytes (or fresh), watch batches, take snapshots, stop at a batch
 * boundary. Adapters: the isolated trainer process (production) and in-process (tests, benchmarks).
 */
import type { BackendInfo, EpochMetrics, TrainingState } from '../src/state';
import type { BatchProgress } from '../src/training/run-loop';
import type { RunConfig } from '../src/training/session';

/** Progress after one trained batch (`batch` is the 0-based index of the batch just trained). */
export type { BatchProgress };

export interface EpochRequest {
  config: RunConfig;
  /** The epoch to train; the job ends at its end. */
  epoch: number;
  /**
   * The checkpoint to start from (absent for a fresh start). `bytes`: verified already. Without them
   * (`isWarm(sha256)` said the engine holds it) the engine adopts its warm session, or, if that is
   * gone or belongs to another run, calls `load` for the verified bytes.
   */
  from?: { sha256: string; url: string; bytes?: Buffer; load?(): Promise<Buffer> };
  /** A fork's first epoch: verified `.ckpt` bytes whose model weights (only) start the run. */
  initWeights?: Buffer;
  /** Allow a checkpoint from another backend (recorded in the state). */
  allowBackendChange: boolean;
  /** JSON recorded in every captured state's `meta.spec` (the training spec, no secrets). */
  specExtras: Record<string, unknown>;
  onProgress(progress: BatchProgress): void;
}

export interface EpochOutcome {
  /** True when `stop()` ended the job before the epoch's end. */
  stopped: boolean;
  /** Finalized state (weights hash filled in) at the end of the epoch or at the stop. */
  state: TrainingState;
  /** Metrics of the finished epoch (absent when stopped). */
  metrics?: EpochMetrics;
}

export interface EpochJob {
  /** A finalized state captured at the next batch boundary; training continues. */
  snapshot(): Promise<TrainingState>;
  /** Stop at the next batch boundary; `done` then resolves with `stopped: true`. */
  stop(): void;
  /** Settles when the epoch ends or the job stops; rejects when the engine fails or crashes. */
  readonly done: Promise<EpochOutcome>;
  /**
   * The state this job ended with is exactly this checkpoint (it was just saved), so a next epoch
   * from that checkpoint may continue the engine's warm session instead of loading it. Per job:
   * with several trainer slots, only the job knows which slot holds that session.
   */
  markWarm(saved: { sha256: string; url: string }): void;
  /**
   * How this job began: it adopted the engine's warm continuation (batches already trained), or
   * restored a checkpoint, or started fresh. @default 'restored' or 'fresh'
   */
  readonly began?: 'adopted' | 'restored' | 'fresh';
}

export interface EpochEngine {
  /** tfjs backend name in use (`wasm`, `cpu`, `tensorflow`). */
  backend(): Promise<string>;
  /** The backend with its package versions: what a checkpoint records and routing fingerprints. */
  backendInfo(): Promise<BackendInfo>;
  /** Starts an epoch on a free trainer; throws `TrainerBusyError` when none is free. */
  start(request: EpochRequest): Promise<EpochJob>;
  /** True when the engine holds a warm session saved as this checkpoint (see `EpochJob.markWarm`). */
  isWarm(sha256: string): boolean;
  /** Frees the engine (stops a trainer process). */
  close(): Promise<void>;
}
