/**
 * The `data` section (issue 23): datasets streamed from the bucket.
 *
 * - import MB/s: `data import` of a generated CSV and of the same rows as Parquet (input bytes / s);
 * - input pipeline samples/s: the MNIST digits of the `mnist` package imported as a dataset, read
 *   back in the seeded order through a shard window (fetch, SHA-256, Parquet decode, batch gather);
 * - memory and resume by dataset size: generated datasets streamed through a fixed window, the RSS
 *   growth while streaming, and the time to a mid-epoch resume's first batch.
 *
 * `tsx bench/data.ts [--quick]` runs it alone on a fresh local stack; `npm run bench -- --only data`.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { DatasetStore } from '../src/data/dataset-store';
import { importFiles } from '../src/data/importer';
import type { ColumnSpec, DatasetManifest, ShardEntry } from '../src/data/manifest';
import { MANIFEST_FORMAT } from '../src/data/manifest';
import { streamOrder } from '../src/data/order';
import { encodeShard } from '../src/data/shard-codec';
import { ShardWindow } from '../src/data/stream';
import type { MinioConnection } from '../src/storage/minio-adapter';
import { createMinioObjectClient } from '../src/storage/minio-adapter';
import { importMnistDataset } from '../src/training/tasks/mnist-dataset';
import type { DataStallResult, StallModel } from './data-stall';
import { runDataStallBench } from './data-stall';
import { formatSummary, summarize } from './stats';

export interface DataBenchOptions {
  connection: MinioConnection;
  /** Rows of the generated CSV / Parquet for the import rate. */
  importRows: number;
  /** Sizes (MB of decoded rows) of the generated datasets for memory and resume. */
  sizesMb: number[];
  windowMb: number;
  batchSize: number;
  log: (line: string) => void;
  /** The input-stall figures (bench/data-stall.ts). @default stallPlanFor(importRows) */
  stall?: { repeats: number; models: StallModel[] };
}

/**
 * The stall plan: mnist-cnn and digits-resnet at their default sizes (8,000 training rows each),
 * 3 timed epochs per mode; the quick plan (its import of under 10,000 rows) times one epoch of a
 * 640-row mnist-cnn.
 */
export function stallPlanFor(importRows: number): { repeats: number; models: StallModel[] } {
  const val = { valSize: 100 };
  if (importRows < 10_000) {
    const hparams = { trainSize: 640, valSize: 64 };
    return {
      repeats: 1,
      models: [
        { task: 'mnist-cnn', streamTask: 'mnist-cnn-stream', hparams, streamHparams: { valSize: 64 } },
      ],
    };
  }
  return {
    repeats: 3,
    models: [
      { task: 'mnist-cnn', streamTask: 'mnist-cnn-stream', hparams: val, streamHparams: val },
      { task: 'digits-resnet', streamTask: 'digits-resnet-stream', hparams: val, streamHparams: val },
    ],
  };
}

export interface DataBenchResult {
  import: {
    format: 'csv' | 'parquet';
    inputMb: number;
    rows: number;
    seconds: number;
    mbPerS: number;
    rowsPerS: number;
    /** Fastest and slowest of the repeats (`seconds` is their median); absent in older reports. */
    secondsRange?: [number, number];
  }[];
  pipeline: {
    dataset: string;
    rows: number;
    batchSize: number;
    windowMb: number;
    /** Median of `passes` timed passes after a warm-up pass (older reports: one pass). */
    samplesPerS: number;
    range?: [number, number];
    passes?: number;
  };
  memory: {
    datasetMb: number;
    shards: number;
    windowMb: number;
    rssGrowthMb: number;
    peakWindowMb: number;
    resumeFirstBatchMs: number;
    resumeShardsFetched: number;
  }[];
  /** Input stall against the native step rate (absent in reports measured before it existed). */
  stall?: DataStallResult;
}

const IMPORT_REPEATS = 3;
const PIPELINE_PASSES = 3;
const WIDTH = 256; // float32 features of a generated row, plus an int32 label: 1,028 bytes

export async function runDataBench(options: DataBenchOptions): Promise<DataBenchResult> {
  const store = new DatasetStore(createMinioObjectClient(options.connection));
  const tag = `${process.pid}-${Date.now().toString(36)}`;
  const result: DataBenchResult = { import: [], pipeline: await pipeline(store, options, tag), memory: [] };
  result.import = await importRates(store, options, tag);
  for (const mb of options.sizesMb) result.memory.push(await memoryRow(store, options, mb, tag));
  const stall = options.stall ?? stallPlanFor(options.importRows);
  result.stall = await runDataStallBench({
    ...stall,
    store,
    batchSize: options.batchSize,
    shardRows: 1_000,
    windowMb: options.windowMb,
    tag,
    log: options.log,
  });
  return result;
}

async function importRates(store: DatasetStore, o: DataBenchOptions, tag: string) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-bench-data-'));
  try {
    const cols = 32;
    const header = [...Array.from({ length: cols }, (_, c) => `f${c}`), 'label'].join(',');
    const lines = Array.from({ length: o.importRows }, (_, r) =>
      [...Array.from({ length: cols }, (_, c) => ((r * 31 + c * 17) % 1000) / 7), r % 10].join(','),
    );
    const csv = path.join(dir, 'rows.csv');
    await writeFile(csv, `${header}\n${lines.join('\n')}\n`);
    const parquet = path.join(dir, 'rows.parquet');
    const columnData = [
      ...Array.from({ length: cols }, (_, c) => ({
        name: `f${c}`,
        data: Float32Array.from({ length: o.importRows }, (_, r) => ((r * 31 + c * 17) % 1000) / 7),
        type: 'FLOAT' as const,
      })),
      {
        name: 'label',
        data: Int32Array.from({ length: o.importRows }, (_, r) => r % 10),
        type: 'INT32' as const,
      },
    ];
    await writeFile(parquet, new Uint8Array(parquetWriteBuffer({ columnData })));
    const rows = [];
    for (const [format, file] of [
      ['csv', csv],
      ['parquet', parquet],
    ] as const) {
      const inputMb = (await stat(file)).size / 1e6;
      const times: number[] = [];
      // A new name each time: the same name would find its version published and upload nothing.
      for (let r = 0; r < IMPORT_REPEATS; r++) {
        const started = performance.now();
        await importFiles(store, [file], {
          name: `bench-import-${format}-${tag}-${r}`,
          labelColumn: 'label',
        });
        times.push((performance.now() - started) / 1000);
      }
      const s = summarize(times);
      rows.push({
        format,
        inputMb,
        rows: o.importRows,
        seconds: s.median,
        mbPerS: inputMb / s.median,
        rowsPerS: o.importRows / s.median,
        secondsRange: [s.min, s.max] as [number, number],
      });
      o.log(
        `data: import ${format} ${inputMb.toFixed(1)} MB in ${times.map((t) => t.toFixed(2)).join(' / ')} s`,
      );
    }
    return rows;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function pipeline(store: DatasetStore, o: DataBenchOptions, tag: string) {
  const name = `bench-mnist-${tag}`;
  const { rows } = await importMnistDataset(store, name, { rows: 10_000, shardRows: 1_000 });
  const dataset = await store.resolve(name);
  const order = streamOrder(
    dataset.manifest.shards.map((s) => s.rows),
    { seed: 1, epoch: 0, bufferSize: 1_000 },
  );
  const pass = async () => {
    const window = new ShardWindow(store, dataset, { windowBytes: o.windowMb * 1e6 });
    const started = performance.now();
    let samples = 0;
    for await (const batch of window.batches(order, o.batchSize)) samples += batch.rows;
    return samples / ((performance.now() - started) / 1000);
  };
  // One pass swings several-fold with JIT warm-up and load: a warm-up pass, then the median of 3.
  await pass();
  const rates: number[] = [];
  for (let r = 0; r < PIPELINE_PASSES; r++) rates.push(await pass());
  const s = summarize(rates);
  o.log(`data: pipeline ${rates.map((v) => v.toFixed(0)).join(' / ')} samples/s (mnist, ${rows} rows)`);
  return {
    dataset: 'mnist (package digits)',
    rows,
    batchSize: o.batchSize,
    windowMb: o.windowMb,
    samplesPerS: s.median,
    range: [s.min, s.max] as [number, number],
    passes: PIPELINE_PASSES,
  };
}

async function memoryRow(store: DatasetStore, o: DataBenchOptions, datasetMb: number, tag: string) {
  const columns: ColumnSpec[] = [
    { name: 'x', dtype: 'float32', shape: [WIDTH] },
    { name: 'label', dtype: 'int32', shape: [] },
  ];
  const rowBytes = 4 * WIDTH + 4;
  const shardRows = Math.floor(8e6 / rowBytes); // 8 MB shards
  const total = Math.floor((datasetMb * 1e6) / rowBytes);
  const shardCount = Math.ceil(total / shardRows);
  const shard = (i: number) => {
    const rows = Math.min(shardRows, total - i * shardRows);
    const x = new Float32Array(rows * WIDTH);
    for (let k = 0; k < x.length; k++) x[k] = ((i * 7919 + k) % 4093) / 4093;
    const label = Int32Array.from({ length: rows }, (_, r) => (i + r) % 10);
    return Buffer.from(
      encodeShard(columns, {
        rows,
        columns: new Map<string, Float32Array | Int32Array>([
          ['x', x],
          ['label', label],
        ]),
      }),
    );
  };
  const shards: ShardEntry[] = [];
  for (let i = 0; i < shardCount; i++) {
    const bytes = shard(i);
    const rows = Math.min(shardRows, total - i * shardRows);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    shards.push({ file: `shard-${String(i).padStart(5, '0')}.parquet`, rows, bytes: bytes.length, sha256 });
  }
  const name = `bench-size-${datasetMb}-${tag}`;
  const manifest: DatasetManifest = {
    format: MANIFEST_FORMAT,
    name,
    columns,
    labelColumn: 'label',
    rows: total,
    shards,
  };
  await store.publish(manifest, (i) => Promise.resolve(shard(i)));
  const dataset = await store.resolve(name);
  const order = streamOrder(
    shards.map((s) => s.rows),
    { seed: 2, epoch: 0, bufferSize: 1_000 },
  );
  const before = process.memoryUsage.rss();
  let peak = before;
  const window = new ShardWindow(store, dataset, { windowBytes: o.windowMb * 1e6 });
  for await (const batch of window.batches(order, o.batchSize)) {
    void batch;
    peak = Math.max(peak, process.memoryUsage.rss());
  }
  const resume = new ShardWindow(store, dataset, { windowBytes: o.windowMb * 1e6 });
  const started = performance.now();
  const first = resume.batches(order, o.batchSize, Math.floor(total * 0.75));
  await first.next();
  const resumeFirstBatchMs = performance.now() - started;
  await first.return(undefined);
  const row = {
    datasetMb,
    shards: shardCount,
    windowMb: o.windowMb,
    rssGrowthMb: (peak - before) / 1e6,
    peakWindowMb: window.stats.peakBytes / 1e6,
    resumeFirstBatchMs,
    resumeShardsFetched: resume.stats.fetched.length,
  };
  o.log(
    `data: ${datasetMb} MB: rss +${row.rssGrowthMb.toFixed(0)} MB, resume ${resumeFirstBatchMs.toFixed(0)} ms`,
  );
  return row;
}

/** Markdown of the section in docs/benchmarks.md (bench/report-sections.ts renders it). */
export function renderDataSection(r: DataBenchResult): string {
  const lines = ['## Datasets streamed from the bucket', ''];
  const ranged = r.import.some((i) => i.secondsRange);
  lines.push(
    `| import | input MB | rows | s | MB/s | rows/s |${ranged ? ' s, fastest–slowest |' : ''}`,
    `| --- | ---: | ---: | ---: | ---: | ---: |${ranged ? ' ---: |' : ''}`,
  );
  for (const i of r.import) {
    const range = i.secondsRange ? ` ${i.secondsRange.map((v) => v.toFixed(2)).join('–')} |` : '';
    lines.push(
      `| ${i.format} | ${i.inputMb.toFixed(1)} | ${i.rows} | ${i.seconds.toFixed(2)} | ${i.mbPerS.toFixed(1)} | ${i.rowsPerS.toFixed(0)} |${range}`,
    );
  }
  if (ranged)
    lines.push(
      '',
      `Import: the median of ${IMPORT_REPEATS} imports of each file (a new dataset name each time).`,
    );
  const p = r.pipeline;
  lines.push(
    '',
    `Input pipeline: ${p.samplesPerS.toFixed(0)} samples/s (${p.dataset}, ${p.rows} rows, batch ${p.batchSize}, window ${p.windowMb} MB)` +
      (p.range
        ? `: the median of ${p.passes} passes after a warm-up pass (${p.range.map((v) => v.toFixed(0)).join('–')}); fetch, SHA-256, decode in the decoding thread, gather.`
        : '.'),
    '',
  );
  lines.push(
    '| dataset MB | shards | window MB | RSS growth MB | peak window MB | resume first batch ms | shards fetched on resume |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const m of r.memory)
    lines.push(
      `| ${m.datasetMb} | ${m.shards} | ${m.windowMb} | ${m.rssGrowthMb.toFixed(0)} | ${m.peakWindowMb.toFixed(0)} | ${m.resumeFirstBatchMs.toFixed(0)} | ${m.resumeShardsFetched} |`,
    );
  if (r.stall) lines.push('', ...renderStall(r.stall));
  return lines.join('\n');
}

function renderStall(s: DataStallResult): string[] {
  const lines = ['### Input stall against the native step rate', ''];
  if (s.skipped) return [...lines, `Not measured: ${s.skipped}.`];
  const first = s.rows[0];
  if (!first) return [...lines, 'Not measured: no model was run.'];
  lines.push(
    `The same epochs trained twice in one process through the trainer's engine (Trainer + runSession) on \`${first.backend}\`: from the task's in-memory data, and streamed from a dataset in the bench's local MinIO holding exactly those training rows (the \`-stream\` twin of the task; ${first.shardRows}-row shards, window ${first.windowMb} MB, batch ${first.batchSize}). Each mode keeps one session; after a warm-up epoch the modes alternate epoch by epoch (A/B/A/B, ${first.memoryEpochS.n} each). An epoch is timed from its first batch to its end (its validation pass included, the same in both). **Input stall** = time the streamed loop spent waiting inside \`StreamedTrain.batch\` (fetch, SHA-256, decode, gather, transform) ÷ the epoch's time; the cross-check is (streamed − in-memory epoch time) ÷ streamed epoch time, per pair. The input pipeline alone reads the same epoch through a fresh \`StreamedTrain\` with no training. Median (min–max); load = 1-minute load average when the model's runs began → ended (shared 2-core machine).`,
    '',
    '| model | rows | steps/s in memory | steps/s streamed | samples/s in memory | samples/s streamed | input pipeline samples/s | input stall % | epoch time difference % | load |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const row of s.rows)
    lines.push(
      `| ${row.model} | ${row.rows} | ${formatSummary(row.memoryStepsPerS, 1)} | ${formatSummary(row.streamedStepsPerS, 1)} | ${formatSummary(row.memorySamplesPerS, 0)} | ${formatSummary(row.streamedSamplesPerS, 0)} | ${formatSummary(row.pipelineSamplesPerS, 0)} | ${formatSummary(row.stallPct, 1)} | ${formatSummary(row.epochDiffPct, 1)} | ${row.loadAverage.map((l) => l.toFixed(1)).join(' → ')} |`,
    );
  return lines;
}
