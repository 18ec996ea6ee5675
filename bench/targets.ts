/**
 * The one table of benchmark targets (issue 13), with the direction of every figure. The report,
 * the headline JSON and the miss notes all read their thresholds from here; a figure not listed
 * here is shown with "no target", never "met".
 */

export interface Target {
  /** What is measured, as the report's headline names it. */
  figure: string;
  /** `max`: the value must be at most `value` (lower is better); `min`: at least (higher is better). */
  kind: 'max' | 'min';
  value: number;
  /** How the value reads: its unit and direction. */
  reads: string;
}

export const TARGETS = {
  overheadRatio10s: {
    figure: 'overheadRatio, 10 s epochs (save per epoch + every 5 s)',
    kind: 'max',
    value: 1.02,
    reads: 'durable ÷ bare epoch time, lower is better',
  },
  overheadRatio1s: {
    figure: 'overheadRatio, 1 s epochs',
    kind: 'max',
    value: 1.05,
    reads: 'durable ÷ bare epoch time, lower is better',
  },
  boundaryGapMs: {
    figure: 'epoch boundary gap (last step of N → first step of N+1), median',
    kind: 'max',
    value: 100,
    reads: 'ms, lower is better',
  },
  stallLostFraction: {
    figure: 'stall: steps/s lost with a save every 5 s',
    kind: 'max',
    value: 0.01,
    reads: '1 − (steps/s with saves ÷ steps/s without), lower is better',
  },
  checkpointSaveVsRaw: {
    figure: 'checkpoint save vs raw minio-js putObject (10 / 100 / 500 MB)',
    kind: 'min',
    value: 1.0,
    reads: 'raw time ÷ ours, higher is better',
  },
  checkpointLoadVsRaw: {
    figure: 'checkpoint load vs raw minio-js getObject (10 / 100 / 500 MB)',
    kind: 'min',
    value: 1.0,
    reads: 'raw time ÷ ours, higher is better',
  },
  recoveryOverHeartbeatS: {
    figure: 'recovery after SIGKILL (backoff 0): kill → first batch, minus heartbeat timeout',
    kind: 'max',
    value: 1,
    reads: 's, lower is better',
  },
  sigtermResumeS: {
    figure: 'resume after SIGTERM: signal → first batch',
    kind: 'max',
    value: 1,
    reads: 's, lower is better',
  },
  soakRssSlopeMbPerH: {
    figure: 'worker RSS slope over a 30-minute soak',
    kind: 'max',
    value: 0,
    reads: 'MB/h; met when flat within noise (the slope minus twice its standard error ≤ 0)',
  },
  engineVsBare: {
    figure: 'engine vs bare tfjs loop, steps/s',
    kind: 'min',
    value: 0.98,
    reads: 'engine ÷ bare steps/s, higher is better',
  },
  peerRatio: {
    figure: 'durable-fit (default backend) vs Keras 3 model.fit on the same TensorFlow, steps/s',
    kind: 'min',
    value: 0.8,
    reads: 'durable-fit ÷ Keras steps/s, higher is better',
  },
  peerVsBackupRatio: {
    figure: 'durable-fit vs Keras 3 with BackupAndRestore at the same save interval, steps/s',
    kind: 'min',
    value: 1.0,
    reads: 'durable-fit ÷ Keras + BackupAndRestore steps/s, higher is better',
  },
} as const satisfies Record<string, Target>;

export type TargetId = keyof typeof TARGETS;

/** The checkpoint sizes the I/O targets apply to. */
export const IO_TARGET_SIZES_MB = [10, 100, 500];

export interface Verdict {
  met: boolean;
  /** e.g. `met`, `**missed** by 0.13 (13 %)`. */
  text: string;
}

/** Whether `value` meets target `id`, and by how much it misses (absolute and relative to the target). */
export function judge(id: TargetId, value: number | null | undefined, slack = 0): Verdict {
  const t: Target = TARGETS[id];
  if (value === null || value === undefined || !Number.isFinite(value))
    return { met: false, text: 'not measured' };
  const miss = t.kind === 'max' ? value - slack - t.value : t.value - value;
  if (miss <= 0) return { met: true, text: 'met' };
  const rel = t.value !== 0 ? ` (${((miss / Math.abs(t.value)) * 100).toFixed(0)} % of the target)` : '';
  return { met: false, text: `**missed** by ${fmt(miss)}${rel}` };
}

/** `≤ 1.02` / `≥ 1` for a table cell. */
export function targetText(id: TargetId): string {
  const t: Target = TARGETS[id];
  return `${t.kind === 'max' ? '≤' : '≥'} ${t.value}`;
}

const fmt = (x: number) => (Math.abs(x) >= 10 ? x.toFixed(1) : x.toPrecision(2));
