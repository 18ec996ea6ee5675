/**
 * Checkpoint I/O against raw MinIO: save (encode + SHA-256 + create-only upload) and load (download +
 * verify + decode, with and without a `stat` first) of an N-MB checkpoint, versus minio-js putObject / getObject of the
 * same bytes, interleaved in one run on one server. Reports the median MB/s (1 MB = 10^6 bytes).
 *
 *   DFIT_S3_ENDPOINT=http://127.0.0.1:9000 npx tsx bench/checkpoint-io.ts [sizeMb …]
 */
import { s3Connection } from '../src/checkpoint/create-store';
import { encodeCheckpoint } from '../src/checkpoint/format';
import { CheckpointStore } from '../src/checkpoint/store';
import { resolveOptions } from '../src/config/options';
import { createMinioObjectClient, createRawMinioBaseline } from '../src/storage/minio-adapter';
import type { MinioConnection } from '../src/storage/minio-adapter';
import { largeState } from '../test/helpers/checkpoint-fixtures';
import type { Summary } from './stats';
import { summarize, timed, timedValue } from './stats';

export interface CheckpointIoBenchOptions {
  sizesMb: number[];
  /** Timed repeats per size, after one warm-up. */
  repeats: number;
  connection: MinioConnection;
}

export interface ThroughputPair {
  /** MB/s (10^6 bytes) per repeat. */
  oursMBps: Summary;
  rawMBps: Summary;
  /** median ours / median raw: 1.0 means no overhead. */
  ratio: number;
}

export interface CheckpointIoResult {
  sizeMb: number;
  bytes: number;
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
  const store = new CheckpointStore(createMinioObjectClient(options.connection));
  const raw = createRawMinioBaseline(options.connection);
  const state = largeState(sizeMb);
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
    save: pair(rates.oursSave ?? [], rates.rawSave ?? []),
    load: pair(rates.oursLoad ?? [], rates.rawLoad ?? []),
    loadStat: pair(rates.oursLoadStat ?? [], rates.rawLoad ?? []),
  };
}

async function main(): Promise<void> {
  const o = resolveOptions(process.env);
  const connection = s3Connection(o); // env keys, DFIT_S3_CREDENTIALS_FILE or the local stack's worker user
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
      `${label} ours ${p.oursMBps.median.toFixed(0)} MB/s, raw minio ${p.rawMBps.median.toFixed(0)} MB/s, ratio ${p.ratio.toFixed(2)}`;
    process.stdout.write(`${r.sizeMb} MB: ${line('save', r.save)}; ${line('load', r.load)}\n`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
