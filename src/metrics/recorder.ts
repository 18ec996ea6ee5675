/**
 * The one port through which durable-fit reports its numbers: activities, the checkpoint I/O and
 * the trainer slots call it, and know nothing of Prometheus or the Temporal SDK's meter. The
 * default records nothing; the worker injects a real one (meter-recorder.ts) when metrics are on.
 */

/** Labels of a series. Keep them bounded (task, backend, op, kind, slot): never a run id. */
export type MetricLabels = Readonly<Record<string, string>>;

export type CheckpointOp = 'save' | 'load';

export interface MetricsRecorder {
  /** The same recorder, with these labels on everything it records from now on. */
  withLabels(labels: MetricLabels): MetricsRecorder;
  /** Training steps (batches) just trained: `dfit_training_steps_total`. */
  addSteps(steps: number): void;
  /** Recent training speed: `dfit_training_steps_per_second`. */
  setStepsPerSecond(value: number): void;
  /** Loss of the last trained batch: `dfit_training_loss`. */
  setLoss(value: number): void;
  /** A finished epoch's wall time: `dfit_epoch_duration_seconds` (histogram). */
  observeEpochSeconds(seconds: number): void;
  /** One checkpoint written or read: `dfit_checkpoint_bytes_total{op}`, `dfit_checkpoint_seconds{op}`. */
  observeCheckpoint(op: CheckpointOp, bytes: number, seconds: number): void;
  /** An epoch attempt that continues after a failure or a pause: `dfit_recoveries_total{kind}`. */
  countRecovery(kind: string): void;
  /** Steps trained again after a failure lost them: `dfit_steps_redone_total{kind}`. */
  addStepsRedone(kind: string, steps: number): void;
  /** The run's steps kept ÷ steps trained as its latest attempt started: `dfit_goodput_ratio`. */
  setGoodput(ratio: number): void;
  /** Time since the running epoch's last heartbeat: `dfit_heartbeat_lag_seconds`. */
  setHeartbeatLag(seconds: number): void;
  /** Resident memory of a trainer child process: `dfit_trainer_rss_bytes`. */
  setTrainerRss(bytes: number): void;
}

/** Records nothing: the default wherever no recorder is injected. */
export const NO_METRICS: MetricsRecorder = {
  withLabels: () => NO_METRICS,
  addSteps: () => {},
  setStepsPerSecond: () => {},
  setLoss: () => {},
  observeEpochSeconds: () => {},
  observeCheckpoint: () => {},
  countRecovery: () => {},
  addStepsRedone: () => {},
  setGoodput: () => {},
  setHeartbeatLag: () => {},
  setTrainerRss: () => {},
};
