/** The shape of one benchmark run's results, and the headline figures with their targets. */
import type { CheckpointIoResult } from './checkpoint-io';
import type { EngineBenchResult } from './engine';
import type { OverheadRow } from './overhead';
import type { RecoveryRow } from './recovery';
import type { ScaleResult } from './scale';
import type { StallResult } from './stall';
import type { WarpResult } from './warp';

export interface MachineInfo {
  date: string;
  cpu: string;
  cores: number;
  memoryGb: number;
  loadAverage: number[];
  node: string;
  os: string;
  versions: Record<string, string>;
  backend: string;
  mode: 'quick' | 'full';
}

export interface BenchResults {
  machine: MachineInfo;
  io?: CheckpointIoResult[];
  warp?: WarpResult;
  engine?: EngineBenchResult[];
  stall?: StallResult[];
  overhead?: OverheadRow[];
  /** The overhead rows again with native TensorFlow workers. */
  overheadNative?: OverheadRow[];
  recovery?: RecoveryRow[];
  scale?: ScaleResult;
  /** Sections that failed, with the error. */
  errors: Record<string, string>;
  durationS: number;
}

export const TARGETS = {
  overheadRatio: { max: 1.03, note: 'for epochs of 10 s or more' },
  stallFraction: { max: 0.01 },
  checkpointSaveVsRaw: { min: 0.9 },
  checkpointLoadVsRaw: { min: 0.9 },
  recoveryOverHeartbeatS: { max: 2 },
  sigtermResumeS: { max: 2 },
} as const;

/** The machine-readable headline figures (docs/benchmarks.json). */
export function headline(r: BenchResults) {
  const longest = r.overhead?.reduce((a, b) => (b.targetEpochS > a.targetEpochS ? b : a), r.overhead[0]!);
  const io = r.io?.find((x) => x.sizeMb === 100) ?? r.io?.at(-1);
  const kills = r.recovery?.filter((x) => x.signal === 'SIGKILL') ?? [];
  const sigterm = r.recovery?.find((x) => x.signal === 'SIGTERM');
  const stall = r.stall?.[0];
  return {
    mode: r.machine.mode,
    date: r.machine.date,
    backend: r.machine.backend,
    targets: TARGETS,
    overheadRatio: longest?.ratio ?? null,
    overheadEpochS: longest?.targetEpochS ?? null,
    overheadRatioByEpochS: Object.fromEntries(
      (r.overhead ?? []).map((x) => [x.targetEpochS, round(x.ratio)]),
    ),
    overheadRatioNativeByEpochS: Object.fromEntries(
      (r.overheadNative ?? []).map((x) => [x.targetEpochS, round(x.ratio)]),
    ),
    stallFraction: stall?.stallFraction ?? null,
    stallBlockedMs: stall?.blockedMs.median ?? null,
    stallIntervalS: stall?.intervalS ?? null,
    checkpointSizeMb: io?.sizeMb ?? null,
    checkpointSaveVsRaw: io?.save.ratio ?? null,
    checkpointLoadVsRaw: io?.load.ratio ?? null,
    checkpointLoadWithStatVsRaw: io?.loadStat.ratio ?? null,
    checkpointBySizeMb: Object.fromEntries(
      (r.io ?? []).map((x) => [x.sizeMb, { save: round(x.save.ratio), load: round(x.load.ratio) }]),
    ),
    recoveryOverHeartbeatS: kills.length ? Math.max(...kills.map((k) => k.overHeartbeatS.median)) : null,
    recoveryOverHeartbeatSByTimeout: Object.fromEntries(
      kills.map((k) => [k.heartbeatTimeoutS, round(k.overHeartbeatS.median)]),
    ),
    sigtermResumeS: sigterm?.recoveryS.median ?? null,
    lostBatchesPerCrash: kills.length ? Math.max(...kills.map((k) => k.lostBatches.median)) : null,
    checkpointEveryBatches: kills[0]?.everyBatches ?? null,
    scaleAllCompleted: r.scale ? r.scale.completed === r.scale.runs : null,
    scaleRuns: r.scale?.runs ?? null,
    scaleEpochsPerMin: r.scale?.epochsPerMin ?? null,
    scaleStartLatencyMs: r.scale?.startCallMs ?? null,
    scaleRssGrowthMb: r.scale?.rssGrowthMb ?? null,
    engineVsBare: Object.fromEntries((r.engine ?? []).map((e) => [`${e.task}/${e.backend}`, round(e.ratio)])),
    engineStepsPerSec: Object.fromEntries(
      (r.engine ?? []).map((e) => [`${e.task}/${e.backend}`, round(e.engineStepsPerSec.median)]),
    ),
    errors: r.errors,
    durationS: round(r.durationS),
  };
}

export const round = (x: number, digits = 3) => Number(x.toFixed(digits));
