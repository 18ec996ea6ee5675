/**
 * A `MetricsRecorder` on the Temporal SDK's `MetricMeter` (`Runtime.instance().metricMeter`). Our
 * series then leave through whatever exporter the process's Runtime has: the worker's Prometheus
 * endpoint serves them next to the SDK's own `temporal_*` series (one port, one scrape), and a host
 * that installed its own Runtime (Prometheus or OpenTelemetry) gets them there with no extra server.
 */
import type { MetricCounter, MetricGauge, MetricHistogram, MetricMeter } from '@temporalio/common';
import type { CheckpointOp, MetricLabels, MetricsRecorder } from './recorder';

/** Histogram bucket bounds in seconds, by metric name; `Runtime.install` must be given them. */
export const HISTOGRAM_BUCKETS: Readonly<Record<string, number[]>> = {
  // From a tiny test epoch (well under a second) to an hour-long epoch on a real dataset.
  dfit_epoch_duration_seconds: [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
  // From a few-KB checkpoint on a local MinIO to a 500 MB one over a slow link.
  dfit_checkpoint_seconds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
};

/** Every series a recorder writes: name → help text (the README lists the same). */
export const METRIC_HELP = {
  dfit_training_steps_total: 'training steps (batches) trained',
  dfit_training_steps_per_second: 'training steps per second over the last second or so',
  dfit_training_loss: 'loss of the last trained batch',
  dfit_epoch_duration_seconds: 'wall time of finished epochs, download to upload',
  dfit_checkpoint_bytes_total: 'checkpoint bytes written (op=save) or read and verified (op=load)',
  dfit_checkpoint_seconds: 'time to write or read and verify one checkpoint',
  dfit_recoveries_total: 'epoch attempts that resumed from a checkpoint, by recovery kind',
  dfit_steps_redone_total: 'steps trained again because a failure lost them, by recovery kind',
  dfit_goodput_ratio: "a run's steps kept ÷ steps trained, as its latest epoch attempt started",
  dfit_heartbeat_lag_seconds: "time since the running epoch's last heartbeat",
  dfit_trainer_rss_bytes: 'resident memory of each trainer child process',
} as const;

export function createMeterRecorder(meter: MetricMeter): MetricsRecorder {
  const help = METRIC_HELP;
  const instruments = {
    steps: meter.createCounter('dfit_training_steps_total', 'steps', help.dfit_training_steps_total),
    stepsPerSecond: gauge(meter, 'dfit_training_steps_per_second'),
    loss: gauge(meter, 'dfit_training_loss'),
    epochSeconds: histogram(meter, 'dfit_epoch_duration_seconds'),
    checkpointBytes: meter.createCounter(
      'dfit_checkpoint_bytes_total',
      'bytes',
      help.dfit_checkpoint_bytes_total,
    ),
    checkpointSeconds: histogram(meter, 'dfit_checkpoint_seconds'),
    recoveries: meter.createCounter('dfit_recoveries_total', '', help.dfit_recoveries_total),
    stepsRedone: meter.createCounter('dfit_steps_redone_total', 'steps', help.dfit_steps_redone_total),
    goodput: gauge(meter, 'dfit_goodput_ratio'),
    heartbeatLag: gauge(meter, 'dfit_heartbeat_lag_seconds'),
    trainerRss: gauge(meter, 'dfit_trainer_rss_bytes'),
  };
  return labelled(instruments, {});
}

interface Instruments {
  steps: MetricCounter;
  stepsPerSecond: MetricGauge;
  loss: MetricGauge;
  epochSeconds: MetricHistogram;
  checkpointBytes: MetricCounter;
  checkpointSeconds: MetricHistogram;
  recoveries: MetricCounter;
  stepsRedone: MetricCounter;
  goodput: MetricGauge;
  heartbeatLag: MetricGauge;
  trainerRss: MetricGauge;
}

/** Non-finite values (a NaN loss before the first batch) are skipped; counters take whole numbers. */
function labelled(m: Instruments, labels: MetricLabels): MetricsRecorder {
  const tags = (extra: MetricLabels = {}) => ({ ...labels, ...extra });
  const setIfFinite = (gauge: MetricGauge, value: number) => {
    if (Number.isFinite(value)) gauge.set(value, tags());
  };
  return {
    withLabels: (more) => labelled(m, tags(more)),
    addSteps(steps) {
      if (steps > 0) m.steps.add(Math.round(steps), tags());
    },
    setStepsPerSecond: (value) => setIfFinite(m.stepsPerSecond, value),
    setLoss: (value) => setIfFinite(m.loss, value),
    observeEpochSeconds(seconds) {
      if (Number.isFinite(seconds)) m.epochSeconds.record(Math.max(0, seconds), tags());
    },
    observeCheckpoint(op: CheckpointOp, bytes, seconds) {
      if (bytes > 0) m.checkpointBytes.add(Math.round(bytes), tags({ op }));
      if (Number.isFinite(seconds)) m.checkpointSeconds.record(Math.max(0, seconds), tags({ op }));
    },
    countRecovery: (kind) => m.recoveries.add(1, tags({ kind })),
    addStepsRedone(kind, steps) {
      if (steps > 0) m.stepsRedone.add(Math.round(steps), tags({ kind }));
    },
    setGoodput: (ratio) => setIfFinite(m.goodput, ratio),
    setHeartbeatLag: (seconds) => setIfFinite(m.heartbeatLag, Math.max(0, seconds)),
    setTrainerRss: (bytes) => setIfFinite(m.trainerRss, bytes),
  };
}

function gauge(meter: MetricMeter, name: keyof typeof METRIC_HELP) {
  return meter.createGauge(name, 'float', '', METRIC_HELP[name]);
}

function histogram(meter: MetricMeter, name: keyof typeof METRIC_HELP) {
  return meter.createHistogram(name, 'float', '', METRIC_HELP[name]); // no unit: a host's unitSuffix must not rename it;
}
