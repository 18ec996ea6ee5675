/** The durable record of a training run: what the workflow knows, carried across continue-as-new. */
import type { CheckpointRef, EpochResult, RecoveryEvent } from '../activities/types';
import type { TrainingSpec } from '../src/spec';

export type RunStatus =
  'starting' | 'running' | 'paused' | 'recovering' | 'stopping' | 'completed' | 'stopped' | 'failed';

export interface RunRecord {
  spec: TrainingSpec;
  /** Every durable checkpoint known: epoch ends, intra-epoch ones from failures, `resumeFrom`. */
  checkpoints: CheckpointRef[];
  /** Results of finished epochs, in order. */
  epochs: EpochResult[];
  recoveries: RecoveryEvent[];
  /** Checkpoints that failed verification; never resumed from again. */
  unusable: string[];
  /** Where the next activity starts; undefined = a fresh start at epoch 0. */
  position?: CheckpointRef;
  /** Set after a failure: the next activity is a `resumeEpoch` with this reason. */
  resumeReason?: RecoveryEvent['kind'];
  backend?: string;
  /** A fork's source: its weights start epoch 0 (only while nothing newer exists). */
  initFrom?: CheckpointRef;
  /** `checkpointNow` requests already satisfied by a saved checkpoint. */
  checkpointRequestsServed?: number;
}

/** What the `progress` query returns. */
export interface Progress {
  status: RunStatus;
  epoch: number;
  epochs: number;
  lastCheckpoint?: CheckpointRef;
  metrics: EpochResult['metrics'][];
  recoveries: RecoveryEvent[];
  backend?: string;
}

/** The workflow result: everything needed to find and trust the trained model. */
export interface TrainingResult {
  status: 'completed' | 'stopped';
  runName: string;
  finalCheckpoint: CheckpointRef;
  weightsSha256: string;
  epochs: { epoch: number; ckpt: CheckpointRef; metrics: Record<string, number>; weightsSha256: string }[];
  recoveries: RecoveryEvent[];
  backend?: string;
}

/** The one-line story shown as the workflow's current details in the Web UI. */
export function summaryLine(record: RunRecord, status: RunStatus): string {
  const last = record.epochs[record.epochs.length - 1];
  const parts = [`${status}`, `epoch ${record.epochs.length}/${record.spec.epochs}`];
  if (last?.metrics.loss !== undefined) parts.push(`loss ${last.metrics.loss.toFixed(4)}`);
  const n = record.recoveries.length;
  if (n) parts.push(`${n} ${n === 1 ? 'recovery' : 'recoveries'}`);
  if (record.position) parts.push(`last checkpoint ${record.position.url}`);
  return parts.join(' · ');
}

export function countRecoveries(record: RunRecord, kind: RecoveryEvent['kind']): number {
  return record.recoveries.filter((r) => r.kind === kind).length;
}

export function bestMetric(record: RunRecord): number | undefined {
  const monitor = record.spec.checkpoint.topK;
  const values = record.epochs
    .map((e) => e.metrics[monitor?.monitor ?? 'loss'])
    .filter((v) => v !== undefined);
  if (values.length === 0) return undefined;
  return monitor?.mode === 'max' ? Math.max(...values) : Math.min(...values);
}
