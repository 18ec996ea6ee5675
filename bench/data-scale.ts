/**
 * The `data-scale` section (issue 23): a generated dataset of at least `--gb` GB of stored bytes
 * trains on a real `durable-fit worker` whose trainer runs under a memory cap (1 GiB), once without
 * a fault and once with the trainer SIGKILLed mid-epoch after an intra-epoch checkpoint; the killed
 * run must resume at the exact sample (the same final weights).
 *
 * The rows are seeded random float32 features (incompressible: the stored bytes are the decoded
 * bytes) labelled by the linear teacher of `tabular-mlp-stream` (src/training/tasks/tabular-stream.ts),
 * the small built-in task the runs train, so an epoch is bound by its input pipeline. Shards are
 * encoded with the shard codec and published with DatasetStore directly (no CSV), staged in a temp
 * folder that is removed once they are in the bucket.
 *
 * Reported: dataset GB, rows, shards, window, epoch wall time and samples/s, the trainer's peak RSS
 * (VmHWM, sampled from /proc) and its cgroup's peak charge, the resume point (checkpoint, batch
 * reached, steps redone) and whether the final weights are equal.
 *
 * `tsx bench/data-scale.ts [--gb 4] [--window 256MB] [--json FILE]` runs it on its own fresh local
 * stack (temp folders, removed afterwards); `npm run bench -- --only data-scale` runs it as a bench
 * section (never part of the default plan: it takes minutes).
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { formatBytes, parseByteSize } from '../src/config/byte-size';
import type { TrainingResult } from '../src/contract';
import { DatasetStore } from '../src/data/dataset-store';
import type { ColumnSpec, DatasetManifest, ShardEntry } from '../src/data/manifest';
import { MANIFEST_FORMAT } from '../src/data/manifest';
import { encodeShard } from '../src/data/shard-codec';
import type { TrainingSpecInput } from '../src/spec';
import { createMinioObjectClient } from '../src/storage/minio-adapter';
import { teacherLabel, teacherWeights } from '../src/training/tasks/tabular-stream';
import { resumePoints, stepsRedone } from '../test/helpers/resume-point';
import { WorkerFleet, waitForEpoch } from '../test/helpers/worker-fleet';
import type { BenchStack } from './bench-stack';
import { startBenchStack } from './bench-stack';
import { isNativeLoadable } from './native';

export interface DataScaleOptions {
  /** Stored bytes of the generated dataset, in GB (1e9). */
  gb: number;
  /** The trainer's shard window (worker env DFIT_DATASET_WINDOW), in MB. */
  windowMb: number;
  /** The trainer memory cap (worker --trainer-memory-limit). @default 1 GiB */
  capBytes?: number;
  log: (line: string) => void;
}

export interface DataScaleRun {
  label: 'uninterrupted' | 'killed mid-epoch';
  /** From the workflow's start to its result. */
  wallS: number;
  /** Training rows of the epoch ÷ wallS. */
  samplesPerS: number;
  /** Highest VmHWM of the run's trainer processes, MB (1e6). */
  trainerPeakRssMb: number;
  /** Highest charge of their memory cgroups (memory.max_usage_in_bytes / memory.peak), MB. */
  cgroupPeakMb: number;
  weightsSha256: string;
  /** Recoveries of the run, with their reasons (the killed run has one; a trainer over its cap adds more). */
  recoveries: string[];
}

export interface DataScaleResult {
  datasetGb: number;
  rows: number;
  shards: number;
  shardMb: number;
  windowMb: number;
  capBytes: number;
  backend: string;
  batchSize: number;
  batches: number;
  everyBatches: number;
  generateS: number;
  runs: DataScaleRun[];
  resume: {
    fromCkpt: string;
    fromBatch: number;
    atBatch: number;
    stepsRedone: number;
    reason: string;
  };
  weightsEqual: boolean;
  loadAverage: { start: number[]; end: number[] };
}

const FEATURES = 256; // float32 values a row, plus an int32 label: 1,028 bytes
const CLASSES = 10;
const SHARD_BYTES = 32e6;
const BATCH = 1024;
const columns: ColumnSpec[] = [
  { name: 'features', dtype: 'float32', shape: [FEATURES] },
  { name: 'label', dtype: 'int32', shape: [] },
];

export async function runDataScaleBench(stack: BenchStack, o: DataScaleOptions): Promise<DataScaleResult> {
  const loadStart = os.loadavg();
  const capBytes = o.capBytes ?? 2 ** 30;
  const name = `scale-${process.pid}-${Date.now().toString(36)}`;
  const store = new DatasetStore(createMinioObjectClient(stack.running.stack.s3));
  const generated = await generate(store, name, o);
  const backend = isNativeLoadable() ? 'tensorflow' : 'wasm';
  const queue = `bench-data-scale-${process.pid}`;
  const fleet = new WorkerFleet(
    {
      ...stack.env,
      DFIT_TRAINER_MEMORY_LIMIT: String(capBytes),
      DFIT_DATASET_WINDOW: String(o.windowMb * 1e6),
    },
    queue,
    path.join(stack.running.dir, 'workers', 'data-scale'),
    backend,
  );
  const batches = Math.ceil(generated.rows / BATCH);
  const everyBatches = Math.max(1, Math.min(500, Math.floor(batches / 8))); // ~8 intra-epoch checkpoints
  const spec: TrainingSpecInput = {
    task: 'tabular-mlp-stream',
    epochs: 1,
    seed: 11,
    batchSize: BATCH,
    hparams: { features: FEATURES, classes: CLASSES, hidden: 32, valSamples: 256, dataset: name },
    dataset: `${name}@${generated.version}`,
    checkpoint: { everyBatches, everySeconds: 0 },
    recovery: { heartbeatTimeoutSeconds: 60, backoffSeconds: 0 },
  };
  try {
    const plain = await oneRun(stack, fleet, queue, spec, 'uninterrupted', generated.rows, o);
    const killed = await oneRun(stack, fleet, queue, spec, 'killed mid-epoch', generated.rows, o, batches);
    const result: DataScaleResult = {
      datasetGb: generated.bytes / 1e9,
      rows: generated.rows,
      shards: generated.shards,
      shardMb: SHARD_BYTES / 1e6,
      windowMb: o.windowMb,
      capBytes,
      backend,
      batchSize: BATCH,
      batches,
      everyBatches,
      generateS: generated.seconds,
      runs: [plain.run, killed.run],
      resume: killed.resume ?? { fromCkpt: '', fromBatch: -1, atBatch: -1, stepsRedone: -1, reason: '' },
      weightsEqual: plain.run.weightsSha256 === killed.run.weightsSha256,
      loadAverage: { start: loadStart, end: os.loadavg() },
    };
    o.log(`data-scale: weights equal ${result.weightsEqual}, resume ${JSON.stringify(result.resume)}`);
    return result;
  } finally {
    await fleet.stopAll();
    await deleteDataset(store, name).catch((err: unknown) => o.log(`data-scale: cleanup: ${String(err)}`));
  }
}

/** Writes the shards to a staging folder (hashing them), then publishes them and the manifest. */
async function generate(store: DatasetStore, name: string, o: DataScaleOptions) {
  const started = performance.now();
  const staging = await mkdtemp(path.join(os.tmpdir(), 'dfit-bench-scale-'));
  try {
    const rowBytes = 4 * FEATURES + 4;
    const shardRows = Math.floor(SHARD_BYTES / rowBytes);
    const teacher = teacherWeights(7, FEATURES, CLASSES); // tabular-mlp-stream's dataSeed default
    const shards: ShardEntry[] = [];
    let bytes = 0;
    let rows = 0;
    while (bytes < o.gb * 1e9) {
      const i = shards.length;
      const features = randomFeatures(shardRows * FEATURES, 0x9e3779b9 ^ (i + 1));
      const labels = new Int32Array(shardRows);
      for (let r = 0; r < shardRows; r++)
        labels[r] = teacherLabel(features.subarray(r * FEATURES, (r + 1) * FEATURES), teacher, CLASSES);
      const encoded = Buffer.from(
        encodeShard(columns, {
          rows: shardRows,
          columns: new Map<string, Float32Array | Int32Array>([
            ['features', features],
            ['label', labels],
          ]),
        }),
      );
      const file = `shard-${String(i).padStart(5, '0')}.parquet`;
      await writeFile(path.join(staging, file), encoded);
      shards.push({
        file,
        rows: shardRows,
        bytes: encoded.length,
        sha256: createHash('sha256').update(encoded).digest('hex'),
      });
      bytes += encoded.length;
      rows += shardRows;
      if (i % 16 === 15) o.log(`data-scale: generated ${(bytes / 1e9).toFixed(2)} GB`);
    }
    const manifest: DatasetManifest = {
      format: MANIFEST_FORMAT,
      name,
      columns,
      labelColumn: 'label',
      rows,
      shards,
    };
    const { version } = await store.publish(manifest, async (i) => {
      const file = path.join(staging, shards[i]?.file ?? '');
      const body = await readFile(file);
      await rm(file); // staged bytes leave the disk as they reach the bucket
      return body;
    });
    const seconds = (performance.now() - started) / 1000;
    o.log(
      `data-scale: dataset ${name} ${(bytes / 1e9).toFixed(2)} GB, ${rows} rows, ${shards.length} shards in ${seconds.toFixed(0)} s`,
    );
    return { version, rows, bytes, shards: shards.length, seconds };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Uniform float32 values in [-1, 1) from a xorshift32 stream: fast, seeded, incompressible. */
function randomFeatures(length: number, seed: number): Float32Array {
  const out = new Float32Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x / 2 ** 31 - 1;
  }
  return out;
}

async function oneRun(
  stack: BenchStack,
  fleet: WorkerFleet,
  queue: string,
  spec: TrainingSpecInput,
  label: DataScaleRun['label'],
  rows: number,
  o: DataScaleOptions,
  killAfterBatches?: number,
): Promise<{ run: DataScaleRun; resume?: DataScaleResult['resume'] }> {
  const worker = await fleet.start(); // a fresh worker and trainer: peaks are this run's own
  const sampler = new PeakSampler(() => fleet.trainerPids(worker.identity));
  const started = performance.now();
  const handle = await stack.startRun(queue, `data-scale-${label.replace(/\W+/g, '-')}-${Date.now()}`, spec);
  try {
    if (killAfterBatches !== undefined) {
      // Mid-epoch, after an intra-epoch checkpoint at or past half the epoch is durable.
      const half = Math.floor(killAfterBatches / 2);
      const seen = await waitForEpoch(
        handle,
        (p) =>
          (p.details?.ckpt?.batch ?? 0) >= half && (p.details?.batch ?? 0) > (p.details?.ckpt?.batch ?? 0),
        30 * 60_000,
      );
      const [trainer] = fleet.trainerPids(worker.identity);
      if (trainer === undefined) throw new Error('data-scale: the worker runs no trainer to kill');
      sampler.sample();
      process.kill(trainer, 'SIGKILL');
      o.log(
        `data-scale: SIGKILLed trainer ${trainer} at batch ${seen.details?.batch} (checkpoint at batch ${seen.details?.ckpt?.batch})`,
      );
    }
    const result: TrainingResult = await handle.result();
    const wallS = (performance.now() - started) / 1000;
    sampler.stop();
    const run: DataScaleRun = {
      label,
      wallS,
      samplesPerS: rows / wallS,
      trainerPeakRssMb: sampler.rssBytes / 1e6,
      cgroupPeakMb: sampler.cgroupBytes / 1e6,
      weightsSha256: result.weightsSha256,
      recoveries: result.recoveries.map((r) => `${r.kind} at batch ${r.atBatch}: ${r.reason.slice(0, 160)}`),
    };
    o.log(`data-scale: ${label}: ${JSON.stringify(run)}`);
    if (killAfterBatches === undefined) return { run };
    const [point] = await resumePoints(handle, result);
    if (!point)
      throw new Error(`data-scale: the killed run recorded no recovery (${result.recoveries.length})`);
    return {
      run,
      resume: {
        fromCkpt: point.recovery.fromCkpt,
        fromBatch: point.ckpt?.batch ?? -1,
        atBatch: point.recovery.atBatch,
        stepsRedone: stepsRedone(point),
        reason: point.recovery.reason.slice(0, 200),
      },
    };
  } finally {
    sampler.stop();
    await fleet.kill(worker.identity, 'SIGTERM').catch(() => undefined);
  }
}

/**
 * Samples the trainers' VmHWM and their memory cgroups' peak every 250 ms (a cgroup is removed when
 * its trainer exits, so it is read while the trainer lives).
 */
class PeakSampler {
  rssBytes = 0;
  cgroupBytes = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pids: () => number[]) {
    this.timer = setInterval(() => this.sample(), 250);
  }

  sample(): void {
    for (const pid of this.pids()) {
      try {
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
        const hwm = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
        this.rssBytes = Math.max(this.rssBytes, hwm);
        const peak = cgroupPeak(pid);
        if (peak !== undefined) this.cgroupBytes = Math.max(this.cgroupBytes, peak);
      } catch {
        // exited between listing and reading
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The peak charge of a process's memory cgroup (v1 memory.max_usage_in_bytes, v2 memory.peak). */
function cgroupPeak(pid: number): number | undefined {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l))?.split(':')[2];
  const v2 = lines.find((l) => l.startsWith('0::'))?.slice(3);
  for (const file of [
    v1 !== undefined ? `/sys/fs/cgroup/memory${v1}/memory.max_usage_in_bytes` : '',
    v2 !== undefined ? `/sys/fs/cgroup${v2}/memory.peak` : '',
  ]) {
    if (!file || !fs.existsSync(file)) continue;
    return Number(fs.readFileSync(file, 'utf8'));
  }
  return undefined;
}

async function deleteDataset(store: DatasetStore, name: string): Promise<void> {
  const objects = await store.client.list(`datasets/${name}/`, { recursive: true });
  for (const object of objects) await store.client.remove(object.key);
}

/** Markdown of the figures (docs/datasets.md, "The 4 GB dataset under a 1 GB cap"). */
export function renderDataScale(r: DataScaleResult): string {
  const [plain, killed] = r.runs;
  const row = (run: DataScaleRun | undefined) =>
    run
      ? `| ${run.label} | ${run.wallS.toFixed(0)} | ${run.samplesPerS.toFixed(0)} | ${run.trainerPeakRssMb.toFixed(0)} | ${run.cgroupPeakMb.toFixed(0)} | ${run.recoveries.length} | \`${run.weightsSha256.slice(0, 12)}\` |`
      : '';
  return [
    `Dataset: ${r.datasetGb.toFixed(2)} GB stored, ${r.rows.toLocaleString('en')} rows × (${FEATURES} float32 + int32 label), ` +
      `${r.shards} shards of ${r.shardMb} MB; window ${r.windowMb} MB; trainer cap ${formatBytes(r.capBytes)}; ` +
      `${r.backend}, batch ${r.batchSize}, ${r.batches} batches, checkpoint every ${r.everyBatches} batches. ` +
      `Generated and uploaded in ${r.generateS.toFixed(0)} s.`,
    '',
    '| run | epoch wall s | samples/s | trainer peak RSS MB (VmHWM) | cgroup peak MB | recoveries | final weights |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
    row(plain),
    row(killed),
    '',
    `Resume: from ${r.resume.fromCkpt} (batch ${r.resume.fromBatch}), the killed attempt had reached batch ` +
      `${r.resume.atBatch}: ${r.resume.stepsRedone} steps redone. Final weights equal: ${r.weightsEqual ? 'yes' : 'NO'}. ` +
      `Load average ${r.loadAverage.start.map((l) => l.toFixed(1)).join(' / ')} at the start, ` +
      `${r.loadAverage.end.map((l) => l.toFixed(1)).join(' / ')} at the end.`,
  ].join('\n');
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { gb: { type: 'string' }, window: { type: 'string' }, json: { type: 'string' } },
  });
  const gb = Number(values.gb ?? 4);
  const window = parseByteSize(values.window ?? '256MB');
  if (!(gb > 0) || window === undefined)
    throw new Error('usage: tsx bench/data-scale.ts [--gb 4] [--window 256MB]');
  const log = (line: string) =>
    process.stderr.write(`[data-scale ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
  const stack = await startBenchStack(log);
  const stop = () => void stack.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const result = await runDataScaleBench(stack, { gb, windowMb: window / 1e6, log });
    if (values.json) fs.writeFileSync(values.json, JSON.stringify(result, null, 2));
    process.stdout.write(`${renderDataScale(result)}\n`);
    return result.weightsEqual ? 0 : 1;
  } finally {
    await stack.close();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(
        `data-scale failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
