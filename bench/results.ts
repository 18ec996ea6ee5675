/** The shape of one benchmark run's results, and the headline figures judged against bench/targets.ts. */
import type { BoundaryResult } from './boundary';
import type { CheckpointIoResult } from './checkpoint-io';
import type { DataBenchResult } from './data';
import type { HistoryLengthResult } from './history-length';
import type { NaiveResult } from './naive';
import type { ParallelResult } from './parallel';
import type { PeerResult } from './peer';
import type { SizeRow } from './sizes';
import type { SoakResult } from './soak';
import type { TargetId } from './targets';
import { IO_TARGET_SIZES_MB, judge, TARGETS } from './targets';
import type { EngineBenchResult } from './engine';
import type { OverheadRow } from './overhead';
import type { RecoveryRow } from './recovery';
import type { GoodputRow } from './goodput';
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
  boundary?: BoundaryResult[];
  /** Overhead and stall by model size. */
  sizes?: SizeRow[];
  /** The recovery bench once per model size. */
  sizesRecovery?: RecoveryRow[];
  historyLength?: HistoryLengthResult;
  naive?: NaiveResult[];
  /** Data-parallel rounds: per-round costs for K shards, the projection to K machines, quality. */
  parallel?: ParallelResult;
  soak?: SoakResult;
  scale?: ScaleResult;
  /** durable-fit's default backend against Keras 3 on the same TensorFlow (issue 20). */
  peer?: PeerResult;
  /** The goodput ledger of long runs with a fault every minute, and without faults (issue 22). */
  goodput?: GoodputRow[];
  /** Datasets streamed from the bucket: import rate, input pipeline, memory and resume (bench/data.ts). */
  data?: DataBenchResult;
  /** Sections that failed, with the error. */
  errors: Record<string, string>;
  durationS: number;
  /** Sections measured again after the run (`--only … --merge`), newest last. */
  remeasured?: { sections: string[]; date: string; durationS: number; loadAverage: number[] }[];
}

/** One headline row: a figure, its value, and its verdict against the target table (or "no target"). */
export interface HeadlineRow {
  figure: string;
  target?: TargetId;
  /** Where the figure comes from (size, epoch length, timeout…). */
  at: string;
  value: number | null;
  verdict: string;
}

/** Every figure with a target in TARGETS, at every size and setting it was measured at. */
export function headlineRows(r: BenchResults): HeadlineRow[] {
  const rows: HeadlineRow[] = [];
  const add = (
    target: TargetId | undefined,
    figure: string,
    at: string,
    value: number | null | undefined,
    slack = 0,
  ) =>
    rows.push({
      figure,
      target,
      at,
      value: value ?? null,
      verdict: target ? judge(target, value, slack).text : 'no target',
    });
  for (const [list, label] of [
    [r.overhead, ''],
    [r.overheadNative, ' (native)'],
  ] as const)
    for (const o of list ?? [])
      add(overheadTarget(o.targetEpochS), 'overheadRatio', `${o.targetEpochS} s epochs${label}`, o.ratio);
  for (const b of r.boundary ?? []) add('boundaryGapMs', 'boundary gap ms', b.task, b.gap.median);
  for (const s of r.stall ?? []) add('stallLostFraction', 'stall lost fraction', s.task, s.lost.median);
  for (const x of r.io ?? []) {
    const t = IO_TARGET_SIZES_MB.includes(x.sizeMb);
    add(t ? 'checkpointSaveVsRaw' : undefined, 'checkpoint save vs raw', `${x.sizeMb} MB`, x.save.ratio);
    add(t ? 'checkpointLoadVsRaw' : undefined, 'checkpoint load vs raw', `${x.sizeMb} MB`, x.load.ratio);
  }
  for (const k of r.recovery ?? [])
    if (k.signal === 'SIGKILL')
      add(
        'recoveryOverHeartbeatS',
        'recovery − heartbeat timeout, s',
        `${k.heartbeatTimeoutS} s timeout`,
        k.overHeartbeatS.median,
      );
    else add('sigtermResumeS', 'SIGTERM resume s', `${k.heartbeatTimeoutS} s timeout`, k.recoveryS.median);
  if (r.soak) {
    const s = r.soak;
    add(
      'soakRssSlopeMbPerH',
      'worker RSS slope MB/h',
      `${(s.durationS / 60).toFixed(1)} min`,
      s.worker.slopeMbPerH,
      2 * s.worker.stderrMbPerH,
    );
    add(undefined, 'trainer RSS slope MB/h', `${(s.durationS / 60).toFixed(1)} min`, s.trainer.slopeMbPerH);
  }
  for (const e of r.engine ?? [])
    add('engineVsBare', 'engine ÷ bare steps/s', `${e.task}/${e.backend}`, e.ratio);
  for (const n of r.naive ?? [])
    add(undefined, 'durable ÷ naive fit+save epoch time', n.task, n.ratio.median);
  for (const z of r.sizes ?? []) {
    const at = `${(z.checkpointBytes / 1e6).toFixed(0)} MB model`;
    add(undefined, 'overheadRatio', at, z.overhead.median);
    add('stallLostFraction', 'stall lost fraction', at, z.lost.median);
  }
  for (const k of r.sizesRecovery ?? [])
    add(
      'recoveryOverHeartbeatS',
      'recovery − heartbeat timeout, s',
      `${((k.checkpointBytes ?? 0) / 1e6).toFixed(0)} MB model`,
      k.overHeartbeatS.median,
    );
  for (const p of r.peer?.rows ?? []) {
    const at = `${p.label} (${p.backend ?? 'durable-fit run failed'})`;
    add('peerRatio', 'durable-fit ÷ Keras steps/s', at, p.ratio?.median);
    add('peerVsBackupRatio', 'durable-fit ÷ Keras + BackupAndRestore steps/s', at, p.ratioVsBackup?.median);
  }
  return rows;
}

function overheadTarget(epochS: number): TargetId | undefined {
  if (epochS === 10) return 'overheadRatio10s';
  if (epochS === 1) return 'overheadRatio1s';
  return undefined;
}

/** The machine-readable headline figures (docs/benchmarks.json). */
export function headline(r: BenchResults) {
  const longest = r.overhead?.reduce((a, b) => (b.targetEpochS > a.targetEpochS ? b : a), r.overhead[0]!);
  const io = r.io?.find((x) => x.sizeMb === 100) ?? r.io?.at(-1);
  const kills = r.recovery?.filter((x) => x.signal === 'SIGKILL') ?? [];
  const sigterm = r.recovery?.find((x) => x.signal === 'SIGTERM');
  const rows = headlineRows(r);
  return {
    mode: r.machine.mode,
    date: r.machine.date,
    backend: r.machine.backend,
    targets: TARGETS,
    missed: rows
      .filter((x) => x.target && !x.verdict.startsWith('met'))
      .map((x) => `${x.figure} @ ${x.at}: ${x.verdict}`),
    overheadRatio: longest?.ratio ?? null,
    overheadEpochS: longest?.targetEpochS ?? null,
    overheadRatioByEpochS: Object.fromEntries(
      (r.overhead ?? []).map((x) => [x.targetEpochS, round(x.ratio)]),
    ),
    overheadRatioNativeByEpochS: Object.fromEntries(
      (r.overheadNative ?? []).map((x) => [x.targetEpochS, round(x.ratio)]),
    ),
    boundaryGapMs: r.boundary?.[0]?.gap.median ?? null,
    stallLostFraction: r.stall?.[0]?.lost.median ?? null,
    checkpointSizeMb: io?.sizeMb ?? null,
    checkpointSaveVsRaw: io?.save.ratio ?? null,
    checkpointLoadVsRaw: io?.load.ratio ?? null,
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
    naiveRatio: r.naive?.[0]?.ratio.median ?? null,
    parallelProjectedSpeedupByShards: Object.fromEntries(
      (r.parallel?.rows ?? []).map((x) => [x.shards, round(x.projectedSpeedup)]),
    ),
    parallelBytesPerRoundByShards: Object.fromEntries(
      (r.parallel?.rows ?? []).map((x) => [x.shards, x.totalBytes.median]),
    ),
    parallelQualityPointsByOuter:
      r.parallel && !('skipped' in r.parallel.quality)
        ? Object.fromEntries(r.parallel.quality.rows.map((x) => [x.outer, round(x.diffPoints)]))
        : null,
    historyRecoveryS: Object.fromEntries(
      (r.historyLength?.rows ?? []).map((x) => [x.epoch, round(x.recoveryS)]),
    ),
    historyEpochPeriodS: Object.fromEntries(
      (r.historyLength?.rows ?? []).map((x) => [x.epoch, round(x.epochPeriodS.median)]),
    ),
    sizesOverheadByMb: Object.fromEntries(
      (r.sizes ?? []).map((x) => [Math.round(x.checkpointBytes / 1e6), round(x.overhead.median)]),
    ),
    /** Goodput (productive ÷ wall time) by fault interval in s (0: no faults). */
    goodputByFaultEveryS: Object.fromEntries(
      (r.goodput ?? []).map((x) => [x.faultEveryS, round(x.goodput.ratio)]),
    ),
    soakWorkerRssSlopeMbPerH: r.soak?.worker.slopeMbPerH ?? null,
    soakTrainerRssSlopeMbPerH: r.soak?.trainer.slopeMbPerH ?? null,
    scaleAllCompleted: r.scale ? r.scale.completed === r.scale.runs : null,
    scaleRuns: r.scale?.runs ?? null,
    scaleEpochsPerMin: r.scale?.epochsPerMin ?? null,
    scaleStartLatencyMs: r.scale?.startCallMs ?? null,
    scaleRssGrowthMb: r.scale?.rssGrowthMb ?? null,
    engineVsBare: Object.fromEntries((r.engine ?? []).map((e) => [`${e.task}/${e.backend}`, round(e.ratio)])),
    engineStepsPerSec: Object.fromEntries(
      (r.engine ?? []).map((e) => [`${e.task}/${e.backend}`, round(e.engineStepsPerSec.median)]),
    ),
    peerBackend: r.peer ? [...new Set(r.peer.rows.flatMap((p) => p.backend ?? []))].join(', ') : null,
    peerRatioByModel: Object.fromEntries(
      (r.peer?.rows ?? []).flatMap((p) => (p.ratio ? [[p.label, round(p.ratio.median)]] : [])),
    ),
    peerVsBackupRatioByModel: Object.fromEntries(
      (r.peer?.rows ?? []).flatMap((p) =>
        p.ratioVsBackup ? [[p.label, round(p.ratioVsBackup.median)]] : [],
      ),
    ),
    errors: r.errors,
    durationS: round(r.durationS),
  };
}

export const round = (x: number, digits = 3) => Number(x.toFixed(digits));
