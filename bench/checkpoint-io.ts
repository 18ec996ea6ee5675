/**
 * Checkpoint I/O against raw MinIO: save (encode + SHA-256 + create-only upload) and load (stat +
 * download + verify + decode) of an N-MB checkpoint, versus minio-js putObject / getObject of the
 * same bytes, interleaved in one run on one server. Reports the median MB/s (1 MB = 10^6 bytes).
 *
 *   DFIT_S3_ENDPOINT=http://127.0.0.1:9000 npx tsx bench/checkpoint-io.ts [sizeMb …]
 */
import { encodeCheckpoint } from '../src/checkpoint/format';
import { CheckpointStore } from '../src/checkpoint/store';
import { resolveOptions } from '../src/config/options';
import { createMinioObjectClient, createRawMinioBaseline } from '../src/storage/minio-adapter';
import type { MinioConnection } from '../src/storage/minio-adapter';
import { largeState } from '../test/helpers/checkpoint-fixtures';

export interface CheckpointIoBenchOptions {
  sizesMb: number[];
  repeats: number;
  connection: MinioConnection;
}

export interface ThroughputPair {
  oursMBps: number;
  rawMBps: number;
  /** ours / raw: 1.0 means no overhead. */
  ratio: number;
}

export interface CheckpointIoResult {
  sizeMb: number;
  bytes: number;
  save: ThroughputPair;
  load: ThroughputPair;
}

/** Runs the benchmark; the bucket must exist. Leaves no objects behind. */
export async function runCheckpointIoBench(options: CheckpointIoBenchOptions): Promise<CheckpointIoResult[]> {
  const store = new CheckpointStore(createMinioObjectClient(options.connection));
  const raw = createRawMinioBaseline(options.connection);
  const results: CheckpointIoResult[] = [];
  for (const sizeMb of options.sizesMb) {
    const state = largeState(sizeMb);
    const bytes = encodeCheckpoint(state);
    const run = `bench-${process.pid}-${Date.now()}`;
    const times = {
      oursSave: [] as number[],
      rawSave: [] as number[],
      oursLoad: [] as number[],
      rawLoad: [] as number[],
    };
    for (let i = 0; i < options.repeats + 1; i++) {
      const rawKey = `${run}/raw-${i}.bin`;
      const tRawSave = await timed(() => raw.putObject(rawKey, bytes));
      const [saved, tOursSave] = await timedValue(() => store.save(run, state, { epoch: i, step: i }));
      const tRawLoad = await timed(() => raw.getObject(rawKey));
      const tOursLoad = await timed(() => store.load(saved.url, saved));
      await Promise.all([raw.removeObject(rawKey), store.remove(saved.url)]);
      if (i === 0) continue; // warm-up
      times.rawSave.push(tRawSave);
      times.oursSave.push(tOursSave);
      times.rawLoad.push(tRawLoad);
      times.oursLoad.push(tOursLoad);
    }
    const mbps = (ms: number[]) => bytes.length / 1e6 / (median(ms) / 1000);
    const pair = (ours: number[], rawMs: number[]) => ({
      oursMBps: mbps(ours),
      rawMBps: mbps(rawMs),
      ratio: mbps(ours) / mbps(rawMs),
    });
    results.push({
      sizeMb,
      bytes: bytes.length,
      save: pair(times.oursSave, times.rawSave),
      load: pair(times.oursLoad, times.rawLoad),
    });
  }
  return results;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  return (await timedValue(fn))[1];
}

async function timedValue<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function main(): Promise<void> {
  const o = resolveOptions(process.env);
  const connection = {
    endpoint: o.s3Endpoint,
    accessKey: o.s3AccessKey,
    secretKey: o.s3SecretKey,
    region: o.s3Region,
    bucket: o.bucket,
  };
  const objects = createMinioObjectClient(connection);
  if (!(await objects.bucketExists())) await objects.makeBucket();
  const sizesMb = process.argv.slice(2).map(Number);
  const results = await runCheckpointIoBench({
    sizesMb: sizesMb.length ? sizesMb : [50],
    repeats: 5,
    connection,
  });
  for (const r of results) {
    const line = (label: string, p: ThroughputPair) =>
      `${label} ours ${p.oursMBps.toFixed(0)} MB/s, raw minio ${p.rawMBps.toFixed(0)} MB/s, ratio ${p.ratio.toFixed(2)}`;
    process.stdout.write(`${r.sizeMb} MB: ${line('save', r.save)}; ${line('load', r.load)}\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
