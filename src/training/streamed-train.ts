/**
 * Training batches of a task with `data` (tasks/types.ts), streamed from its dataset in the bucket.
 *
 * Data epoch d's order is `streamOrder(shard rows, seed, d)` (src/data/order.ts): the same for any
 * number of workers. Without shards the run's batch b is positions [bB, (b+1)B) of it; data-parallel
 * shard s of K reads positions s, s + K, … (cut to floor(N / K)), batch b of that slice, as
 * shard-order.ts does for in-memory data. Batches in sequence come from one shard window (the next
 * shards prefetched while a batch trains); a jump (a resume, a rollback) reopens the window at the
 * batch's position, fetching only the shards still needed from there.
 */
import type { DatasetBinding } from '../state';
import type { DatasetStore, ResolvedDataset } from '../data/dataset-store';
import { sliceOrder, streamOrder } from '../data/order';
import type { RowBatch } from '../data/stream';
import { ShardWindow } from '../data/stream';
import type { ColumnValues } from '../data/shard-codec';
import { columnWidth } from '../data/manifest';
import type { DatasetRow, TaskData } from './tasks/types';

export interface StreamSettings {
  seed: number;
  batchSize: number;
  /** Decoded shard bytes held at once. */
  windowBytes: number;
  shard?: { index: number; count: number };
}

export interface TrainBatch {
  x: Float32Array;
  y: Float32Array;
  rows: number;
}

const DEFAULT_SHUFFLE_BUFFER = 4096;

/** Where a streamed session's time went, for benchmarks (bench/data-stall.ts). */
export interface StreamStats {
  /** Batches handed out. */
  batches: number;
  /** Time inside `batch()`: the training loop waiting for its next batch (fetch, decode, gather). */
  waitMs: number;
  /** The part of `waitMs` spent turning rows into the task's inputs (`data.transform`). */
  transformMs: number;
}

export class StreamedTrain {
  readonly binding: DatasetBinding;
  private active: { key: string; next: number; batches: AsyncGenerator<RowBatch> } | undefined;
  private order: { epoch: number; indices: Uint32Array } | undefined;
  /** Every window opened, for tests and benchmarks (shards fetched, peak bytes). */
  readonly windows: ShardWindow[] = [];
  readonly stats: StreamStats = { batches: 0, waitMs: 0, transformMs: 0 };

  constructor(
    private readonly store: DatasetStore,
    readonly dataset: ResolvedDataset,
    private readonly data: TaskData<never>,
    private readonly shapes: { inputShape: number[]; labelShape: number[] },
    private readonly settings: StreamSettings,
  ) {
    this.binding = { name: dataset.name, version: dataset.version };
  }

  /** Rows of the dataset (the run's training set size). */
  get rows(): number {
    return this.dataset.manifest.rows;
  }

  /** The training batch `batch` of data epoch `dataEpoch` (of this shard's slice, if any). */
  async batch(dataEpoch: number, batch: number): Promise<TrainBatch> {
    const started = performance.now();
    try {
      return await this.nextBatch(dataEpoch, batch);
    } finally {
      this.stats.batches += 1;
      this.stats.waitMs += performance.now() - started;
    }
  }

  private async nextBatch(dataEpoch: number, batch: number): Promise<TrainBatch> {
    const { batchSize, shard } = this.settings;
    const key = `${dataEpoch}`;
    const position = batch * batchSize;
    if (!this.active || this.active.key !== key || this.active.next !== position) {
      await this.close();
      const order = this.epochOrder(dataEpoch);
      const window = new ShardWindow(this.store, this.dataset, {
        windowBytes: this.settings.windowBytes,
        columns: this.data.columns,
      });
      this.windows.push(window);
      const slice = shard ? sliceOrder(order, shard.index, shard.count) : order;
      this.active = { key, next: position, batches: window.batches(slice, batchSize, position) };
    }
    const next = await this.active.batches.next();
    if (next.done) throw new RangeError(`data epoch ${dataEpoch} has no batch ${batch}`);
    this.active.next = position + next.value.rows;
    const transformStarted = performance.now();
    const out = this.transform(next.value);
    this.stats.transformMs += performance.now() - transformStarted;
    return out;
  }

  async close(): Promise<void> {
    const active = this.active;
    this.active = undefined;
    await active?.batches.return(undefined);
  }

  private epochOrder(epoch: number): Uint32Array {
    if (this.order?.epoch !== epoch) {
      const rows = this.dataset.manifest.shards.map((s) => s.rows);
      const bufferSize = this.data.shuffleBuffer ?? DEFAULT_SHUFFLE_BUFFER;
      this.order = { epoch, indices: streamOrder(rows, { seed: this.settings.seed, epoch, bufferSize }) };
    }
    return this.order.indices;
  }

  private transform(batch: RowBatch): TrainBatch {
    const xWidth = this.shapes.inputShape.reduce((a, b) => a * b, 1);
    const yWidth = this.shapes.labelShape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(batch.rows * xWidth);
    const y = new Float32Array(batch.rows * yWidth);
    const columns = this.dataset.manifest.columns.filter((c) => batch.columns.has(c.name));
    for (let r = 0; r < batch.rows; r++) {
      const row: Record<string, ColumnValues> = {};
      for (const column of columns) {
        const width = columnWidth(column);
        row[column.name] = (batch.columns.get(column.name) as ColumnValues).subarray(
          r * width,
          (r + 1) * width,
        );
      }
      this.data.transform(
        row as DatasetRow,
        x.subarray(r * xWidth, (r + 1) * xWidth),
        y.subarray(r * yWidth, (r + 1) * yWidth),
      );
    }
    return { x, y, rows: batch.rows };
  }
}
