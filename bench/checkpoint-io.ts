/**
 * Checkpoint I/O against raw MinIO: save (encode + SHA-256 + create-only upload) and load (download +
 * verify + decode, with and without a `stat` first) of an N-MB checkpoint, versus minio-js putObject / getObject of the
 * same bytes, interleaved in one run on one server. Reports the median MB/s (1 MB = 10^6 bytes) with
 * its min–max, and the ratio raw time ÷ ours (higher is better).
 *
 *   DFIT_S3_ENDPOINT=http://127.0.0.1:9000 DFIT_BENCH_REPEATS=5 npx tsx bench/checkpoint-io.ts [sizeMb …]
 */
import { s3Connection } from '../src/checkpoint/create-store';
import { encodeCheckpoint } from '../src/checkpoint/format';
import { ObjectCheckpointIO } from '../src/checkpoint/object-checkpoint-io';
import { resolveOptions } from '../src/config/options';
import type { TrainingState } from '../src/state';
import { createMinioObjectClient, createRawMinioBaseline } from '../src/storage/minio-adapter';
import type { MinioConnection } from '../src/storage/minio-adapter';
import { largeState } from '../test/helpers/checkpoint-fixtures';
import type { Summary } from './stats';
import { formatSummary, summarize, timed, timedValue } from './stats';

export interface CheckpointIoBenchOptions {
  sizesMb: number[];
  /** Timed repeats per size, after one warm-up. */
  repeats: number;
  /** Tensors the state is split into (a real model has many: weights and optimizer slots). @default 1 */
  tensors?: number;
  connection: MinioConnection;
}

export interface ThroughputPair {
  /** MB/s (10^6 bytes) per repeat. */
  oursMBps: Summary;
  rawMBps: Summary;
  /** median ours MB/s ÷ median raw MB/s, i.e. raw time ÷ ours: 1.0 means no overhead, higher is better. */
  ratio: number;
}

export interface CheckpointIoResult {
  sizeMb: number;
  bytes: number;
  tensors: number;
  save: ThroughputPair;
  /** Load with the expected size and SHA-256 from the workflow record (the resume path). */
  load: ThroughputPair;
  /** Load of a bare URL: a `stat` first for the recorded hash (the CLI's path, and the old resume path). */
  loadStat: ThroughputPair;
}

/** Runs the benchmark; the bucket must exist. Leaves no objects behind. */
export async function runCheckpointIoBench(options: CheckpointIoBenchOptions): Promise<CheckpointIoResult[]> {
  const results: CheckpointIoResult[] = [];
  for (const sizeMb of options.sizesMb) results.push(await benchOneSize(options, sizeMb));
  return results;
}

async function benchOneSize(options: CheckpointIoBenchOptions, sizeMb: number): Promise<CheckpointIoResult> {
  const store = new ObjectCheckpointIO(createMinioObjectClient(options.connection));
  const raw = createRawMinioBaseline(options.connection);
  const state = splitState(largeState(sizeMb), options.tensors ?? 1);
  const bytes = encodeCheckpoint(state);
  const run = `bench-${process.pid}-${Date.now()}`;
  const mbps = (ms: number) => bytes.length / 1e6 / (ms / 1000);
  const rates = { oursSave: [], rawSave: [], oursLoad: [], rawLoad: [], oursLoadStat: [] } as Record<
    string,
    number[]
  >;
  const push = (name: string, ms: number, i: number) => i > 0 && rates[name]?.push(mbps(ms)); // 0: warm-up
  for (let i = 0; i < options.repeats + 1; i++) {
    const rawKey = `${run}/raw-${i}.bin`;
    push('rawSave', await timed(() => raw.putObject(rawKey, bytes)), i);
    const [saved, tOursSave] = await timedValue(() => store.save(run, state, { epoch: i, step: i }));
    push('oursSave', tOursSave, i);
    push('rawLoad', await timed(() => raw.getObject(rawKey)), i);
    push('oursLoad', await timed(() => store.load(saved.url, saved)), i);
    push('oursLoadStat', await timed(() => store.load(saved.url)), i);
    await Promise.all([raw.removeObject(rawKey), store.remove(saved.url)]);
  }
  const pair = (ours: number[], rawRates: number[]): ThroughputPair => {
    const o = summarize(ours);
    const r = summarize(rawRates);
    return { oursMBps: o, rawMBps: r, ratio: o.median / r.median };
  };
  return {
    sizeMb,
    bytes: bytes.length,
    tensors: state.tensors.length,
    save: pair(rates.oursSave ?? [], rates.rawSave ?? []),
    load: pair(rates.oursLoad ?? [], rates.rawLoad ?? []),
    loadStat: pair(rates.oursLoadStat ?? [], rates.rawLoad ?? []),
  };
}

/** The one big tensor of `state` as `count` tensors of about equal size (views, no copy). */
function splitState(state: TrainingState, count: number): TrainingState {
  const big = state.tensors[0];
  if (!big || count <= 1) return state;
  const floats = big.data.length / 4;
  const per = Math.ceil(floats / count);
  const tensors = Array.from({ length: Math.ceil(floats / per) }, (_, i) => {
    const n = Math.min(per, floats - i * per);
    return {
      ...big,
      name: `model/w${i}`,
      shape: [n],
      data: big.data.subarray(i * per * 4, (i * per + n) * 4),
    };
  });
  return { ...state, tensors };
}

async function main(): Promise<void> {
  const o = resolveOptions(process.env);
  const connection = s3Connection(o); // env keys, DFIT_S3_CREDENTIALS_FILE or the local stack's worker user
  const objects = createMinioObjectClient(connection);
  if (!(await objects.bucketExists())) await objects.makeBucket();
  const sizesMb = process.argv.slice(2).map(Number);
  const results = await runCheckpointIoBench({
    sizesMb: sizesMb.length ? sizesMb : [50],
    repeats: Number(process.env.DFIT_BENCH_REPEATS ?? 5),
    connection,
  });
  process.stdout.write('MB/s median (min–max); ratio = raw time ÷ ours, higher is better\n');
  for (const r of results) {
    const line = (label: string, p: ThroughputPair) =>
      `  ${label}: ours ${formatSummary(p.oursMBps, 0)}, raw minio ${formatSummary(p.rawMBps, 0)}, ratio ${p.ratio.toFixed(2)}`;
    const lines = [line('save', r.save), line('load', r.load), line('load (stat first)', r.loadStat)];
    process.stdout.write(`${r.sizeMb} MB\n${lines.join('\n')}\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
