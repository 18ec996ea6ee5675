/**
 * Messages between a `TrainerProcess` (parent) and the trainer child. States travel as
 * `PortableState`s (small ones inline with advanced IPC serialisation, large ones through a file, see
 * state-transfer.ts), phase-1 captures from the child: the parent computes `weightsSha256`, encodes
 * and uploads.
 */
import type { Divergence } from './divergence';
import { divergenceOf } from './divergence';
import { classifyError } from '../failure-kind';
import type { FailureKind } from '../failure-kind';
import type { BackendInfo, EpochMetrics, TrainingState } from '../state';
import type { BackendRequest } from './backend';
import type { SpecExtras } from './capture';
import type { BatchProgress } from './run-loop';
import type { RunConfig } from './session';
import type { PortableState } from './state-transfer';

/** What a run needs; `from` resumes from a decoded checkpoint. */
export interface JobRequest {
  config: RunConfig;
  from?: TrainingState;
  /** Stop when the cursor reaches this epoch (e.g. `from.cursor.epoch + 1` for one epoch). @default config.epochs */
  untilEpoch?: number;
  /** Stop when the cursor reaches this step count (deterministic interruption, e.g. in tests). */
  stopAtStep?: number;
  /** @default false */
  allowBackendChange?: boolean;
  /**
   * A fork: start fresh (new optimizer, RNG and cursor) but with the model weights of this state.
   * Refused with the differing layers when the topology does not match.
   */
  initWeights?: TrainingState;
  specExtras?: SpecExtras;
  /** Least time between progress messages; 0 sends one per batch. @default 0 */
  progressIntervalMs?: number;
  /**
   * Adopt the child's warm continuation whose base state was saved as this checkpoint (instead of
   * `from`); the child refuses with `WarmSessionLostError` when it does not hold it.
   */
  continueFrom?: { sha256: string; url: string };
  /** After the end epoch, keep the session and train on speculatively (trainer-continuation.ts). @default false */
  speculate?: boolean;
  /** Send each finished epoch's full state (`JobHandlers.onEpochEnd`). @default false */
  epochEnds?: boolean;
}

export type TrainerRequest =
  | {
      type: 'init';
      backend: BackendRequest;
      taskModules?: string[];
      /** Folder for large state transfers (see state-transfer.ts); inline only when absent. */
      transferDir?: string;
      /** The bucket whose datasets the parent reads for the child (`dataset-read`); none when absent. */
      datasetBucket?: string;
    }
  | ({ type: 'job'; jobId: number } & JobRequest)
  | { type: 'snapshot'; jobId: number; requestId: number }
  | { type: 'stop'; jobId: number }
  /** The end state of job `jobId` was saved as this checkpoint: its warm continuation is keyed by it. */
  | { type: 'keep'; jobId: number; sha256: string; url: string }
  | { type: 'shutdown' }
  /** The answer to a `dataset-read`: the object's bytes, or why not. */
  | { type: 'dataset-bytes'; requestId: number; bytes?: Uint8Array; error?: SerializedError };

/** An error as it crosses the process boundary, with its class's permanence (src/failure-kind.ts). */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  failureKind?: FailureKind;
  /** What a divergence names (the step, its loss and why), for the workflow's rollback. */
  data?: { divergence?: Divergence };
}

export type TrainerEvent =
  | { type: 'ready'; backend: BackendInfo }
  | ({ type: 'progress'; jobId: number } & BatchProgress)
  | { type: 'snapshot'; jobId: number; requestId: number; state: PortableState }
  | { type: 'epoch-end'; jobId: number; epoch: number; metrics: EpochMetrics; state: PortableState }
  | { type: 'done'; jobId: number; stopped: boolean; state: PortableState }
  | { type: 'error'; jobId?: number; error: SerializedError }
  /** The child asks the parent for an object under `datasets/` (it holds no S3 credentials). */
  | { type: 'dataset-read'; requestId: number; key: string };

export function serializeError(error: unknown): SerializedError {
  const e = error instanceof Error ? error : new Error(String(error));
  // The name is the classified class's (a wrapper keeps its cause's type), as at the activity boundary.
  const { kind, type, message } = classifyError(e);
  const divergence = divergenceOf(e);
  return {
    name: type,
    message,
    failureKind: kind,
    ...(e.stack ? { stack: e.stack } : {}),
    ...(divergence ? { data: { divergence } } : {}),
  };
}
