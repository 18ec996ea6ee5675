/**
 * Training batches of a task with `data` (tasks/types.ts), streamed from its dataset in the bucket.
 *
 * Data epoch d's order is `streamOrder(shard rows, seed, d)` (src/data/order.ts): the same for any
 * number of workers. Without shards the run's batch b is positions [bB, (b+1)B) of it; data-parallel
 * shard s of K reads positions s, s + K, … (cut to floor(N / K)), batch b of that slice, as
 * shard-order.ts does for in-memory data. Batches in sequence come from one shard window (the next
 * shards prefetched while a batch trains); once it has fetched all its shards, the next data epoch's
 * window opens and loads its first shards, so an epoch does not start on a cold fetch. A jump
 * (a resume, a rollback) reopens the window at the batch's position, fetching only the shards still
 * needed from there.
 */
import { sampleDraw } from '../data/sample-draw';
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

interface OpenWindow {
  key: string;
  dataEpoch: number;
  /** The rows it reads, by dataset index, in order (this shard's slice of the epoch's order). */
  slice: Uint32Array;
  next: number;
  window: ShardWindow;
  batches: AsyncGenerator<RowBatch>;
  /** Its first batch, requested before it was due (the upcoming epoch's). */
  first?: Promise<IteratorResult<RowBatch>>;
}

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
  private active: OpenWindow | undefined;
  /** The next data epoch's window, opened once the active one has fetched all it will. */
  private upcoming: OpenWindow | undefined;
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
    const key = `${dataEpoch}`;
    const position = batch * this.settings.batchSize;
    if (!this.active || this.active.key !== key || this.active.next !== position) {
      await this.closeActive();
      const upcoming = this.upcoming;
      this.upcoming = undefined;
      if (upcoming?.key === key && upcoming.next === position) {
        upcoming.window.prefetchBefore = Infinity;
        this.active = upcoming;
      } else {
        if (upcoming) discard(upcoming);
        this.active = this.open(dataEpoch, position);
      }
      this.windows.push(this.active.window);
    }
    const active = this.active;
    const first = active.first;
    active.first = undefined;
    const next = await (first ?? active.batches.next());
    if (next.done) throw new RangeError(`data epoch ${dataEpoch} has no batch ${batch}`);
    active.next = position + next.value.rows;
    // This epoch's window has fetched all it will: the next epoch's first shards load meanwhile.
    if (!this.upcoming && active.window.fetchedAll) this.upcoming = this.openUpcoming(dataEpoch + 1);
    const transformStarted = performance.now();
    const out = this.transform(next.value, active);
    this.stats.transformMs += performance.now() - transformStarted;
    return out;
  }

  async close(): Promise<void> {
    const upcoming = this.upcoming;
    this.upcoming = undefined;
    if (upcoming) discard(upcoming);
    await this.closeActive();
  }

  private async closeActive(): Promise<void> {
    const active = this.active;
    this.active = undefined;
    await active?.batches.return(undefined);
  }

  private open(dataEpoch: number, position: number): OpenWindow {
    const { batchSize, shard } = this.settings;
    const order = this.epochOrder(dataEpoch);
    const window = new ShardWindow(this.store, this.dataset, {
      windowBytes: this.settings.windowBytes,
      columns: this.data.columns,
      reuseBatches: true, // transform() copies each batch out before the next is built
    });
    const slice = shard ? sliceOrder(order, shard.index, shard.count) : order;
    return {
      key: `${dataEpoch}`,
      dataEpoch,
      slice,
      next: position,
      window,
      batches: window.batches(slice, batchSize, position),
    };
  }

  /**
   * Data epoch `dataEpoch`'s window with its first batch requested. It loads only the shards of its
   * first two shuffle buffers of rows (those its first batches draw from) until it is active, then
   * whatever its window has room for: a run that ends here wastes those few shards.
   */
  private openUpcoming(dataEpoch: number): OpenWindow {
    const upcoming = this.open(dataEpoch, 0);
    upcoming.window.prefetchBefore = 2 * (this.data.shuffleBuffer ?? DEFAULT_SHUFFLE_BUFFER);
    upcoming.first = upcoming.batches.next();
    upcoming.first.catch(() => undefined); // observed when the epoch's first batch is asked for
    return upcoming;
  }

  private epochOrder(epoch: number): Uint32Array {
    if (this.order?.epoch !== epoch) {
      const rows = this.dataset.manifest.shards.map((s) => s.rows);
      const bufferSize = this.data.shuffleBuffer ?? DEFAULT_SHUFFLE_BUFFER;
      this.order = { epoch, indices: streamOrder(rows, { seed: this.settings.seed, epoch, bufferSize }) };
    }
    return this.order.indices;
  }

  private transform(batch: RowBatch, from: OpenWindow): TrainBatch {
    const xWidth = this.shapes.inputShape.reduce((a, b) => a * b, 1);
    const yWidth = this.shapes.labelShape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(batch.rows * xWidth);
    const y = new Float32Array(batch.rows * yWidth);
    const columns = this.dataset.manifest.columns
      .filter((c) => batch.columns.has(c.name))
      .map((c) => ({
        name: c.name,
        width: columnWidth(c),
        values: batch.columns.get(c.name) as ColumnValues,
      }));
    for (let r = 0; r < batch.rows; r++) {
      const row: Record<string, ColumnValues> = {};
      for (const { name, width, values } of columns) row[name] = values.subarray(r * width, (r + 1) * width);
      const index = from.slice[batch.position + r] as number;
      this.data.transform(
        row as DatasetRow,
        x.subarray(r * xWidth, (r + 1) * xWidth),
        y.subarray(r * yWidth, (r + 1) * yWidth),
        sampleDraw(this.settings.seed, from.dataEpoch, index),
      );
    }
    return { x, y, rows: batch.rows };
  }
}

/** Closes a window whose first batch may still be loading, without waiting for that load. */
function discard(open: OpenWindow): void {
  open.batches.return(undefined).catch(() => undefined);
}
