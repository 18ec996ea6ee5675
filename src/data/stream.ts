/**
 * Reads a dataset's rows in a given order (order.ts) in batches, holding a bounded window of
 * decoded shards: a shard is fetched (SHA-checked) before its first row is due, prefetched while
 * earlier batches train when the window has room, and dropped after its last row in the order.
 * Starting at position p fetches only the shards with rows at or after p: a mid-epoch resume reads
 * no shard it has finished. The window is a byte budget for decoded shards; the shards one batch
 * needs are loaded even when they alone exceed it (then size shards and the shuffle buffer down).
 * Shards are decoded in a worker thread (decode-thread.ts), off the training loop's thread.
 */
import type { DatasetStore, ResolvedDataset } from './dataset-store';
import type { ColumnSpec } from './manifest';
import { columnWidth, rowBytes } from './manifest';
import { shardOffsets, shardOfRow } from './order';
import type { ColumnValues, ShardData } from './shard-codec';
import { allocateColumn } from './shard-codec';
import { decodeShardOffThread } from './decode-thread';

export interface WindowOptions {
  /** Decoded bytes of shards held at once (besides the batch being built). @default 256 MB */
  windowBytes?: number;
  /** Columns to read. @default all */
  columns?: readonly string[];
  /**
   * Build every batch in the same column arrays, each batch overwriting the previous one: for a
   * consumer that copies a batch out before asking for the next (less garbage). @default false
   */
  reuseBatches?: boolean;
}

export interface RowBatch {
  /** Position in the order of the batch's first row. */
  position: number;
  rows: number;
  columns: Map<string, ColumnValues>;
}

export interface WindowStats {
  /** Shards fetched so far (each fetch counted, refetches too). */
  fetched: number[];
  /** Most decoded bytes held at once. */
  peakBytes: number;
}

export const DEFAULT_WINDOW_BYTES = 256e6;

interface Plan {
  firstUse: Map<number, number>;
  lastUse: Map<number, number>;
  remaining: Map<number, number>;
  sequence: number[];
}

export class ShardWindow {
  readonly stats: WindowStats = { fetched: [], peakBytes: 0 };
  private readonly columns: ColumnSpec[];
  private readonly offsets: Float64Array;
  private readonly loaded = new Map<number, Promise<ShardData>>();
  /** Loaded shards whose bytes arrived (for compaction, which cannot wait). */
  private readonly ready = new Map<number, ShardData>();
  /** Rows copied out of shards dropped early (compaction), by global row. */
  private readonly rowCache = new Map<number, ColumnValues[]>();
  private readonly windowBytes: number;
  private readonly reuseBatches: boolean;
  private batchBuffers: ColumnValues[] | undefined;
  /**
   * Prefetch only shards first used before this position of the order (the shards of the batch
   * being built always load). @default Infinity: whatever the window has room for
   */
  prefetchBefore = Infinity;
  /** Whether every shard the open `batches()` will need has been fetched (or is being fetched). */
  fetchedAll = false;

  constructor(
    private readonly store: DatasetStore,
    private readonly dataset: ResolvedDataset,
    options: WindowOptions = {},
  ) {
    const all = dataset.manifest.columns;
    const wanted = options.columns ?? all.map((c) => c.name);
    for (const name of wanted)
      if (!all.some((c) => c.name === name))
        throw new Error(
          `dataset ${dataset.name} has no column "${name}" (it has ${all.map((c) => c.name).join(', ')})`,
        );
    this.columns = all.filter((c) => wanted.includes(c.name));
    this.offsets = shardOffsets(dataset.manifest.shards.map((s) => s.rows));
    this.windowBytes = options.windowBytes ?? DEFAULT_WINDOW_BYTES;
    this.reuseBatches = options.reuseBatches ?? false;
  }

  /**
   * Batches of `batchSize` rows of `order` from position `start` to its end (the last may be short).
   */
  async *batches(order: Uint32Array, batchSize: number, start = 0): AsyncGenerator<RowBatch> {
    const plan = this.plan(order, start);
    let next = 0; // index into plan.sequence of the next shard to fetch
    try {
      for (let position = start; position < order.length; position += batchSize) {
        const end = Math.min(position + batchSize, order.length);
        // Load what this batch needs, then prefetch what the window has room for.
        while (
          next < plan.sequence.length &&
          (plan.firstUse.get(plan.sequence[next] as number) as number) < end
        )
          this.fetch(plan.sequence[next++] as number);
        while (
          next < plan.sequence.length &&
          (plan.firstUse.get(plan.sequence[next] as number) as number) < this.prefetchBefore &&
          this.heldBytes() + this.shardBytes(plan.sequence[next] as number) <= this.windowBytes
        )
          this.fetch(plan.sequence[next++] as number);
        this.fetchedAll = next >= plan.sequence.length;
        this.stats.peakBytes = Math.max(this.stats.peakBytes, this.heldBytes());
        yield await this.gather(order, position, end, plan.remaining);
        // Copying rows out of shards (compact) pays only when the room lets a further shard in.
        const pressed =
          next < plan.sequence.length &&
          this.heldBytes() + this.shardBytes(plan.sequence[next] as number) > this.windowBytes;
        for (const shard of [...this.loaded.keys()]) {
          if ((plan.lastUse.get(shard) as number) < end) this.drop(shard);
          else if (pressed) this.compact(order, end, shard, plan);
        }
      }
    } finally {
      this.loaded.clear();
      this.ready.clear();
      this.rowCache.clear();
    }
  }

  private drop(shard: number): void {
    this.loaded.delete(shard);
    this.ready.delete(shard);
  }

  /**
   * A shard with at most half its rows still to come (they wait in the shuffle buffer) is dropped
   * after copying those rows out: the window then holds the buffer's rows, not whole shards. Done
   * only while a shard still to fetch does not fit.
   */
  private compact(order: Uint32Array, from: number, shard: number, plan: Plan): void {
    const data = this.ready.get(shard);
    const left = plan.remaining.get(shard) ?? 0;
    if (!data || (plan.firstUse.get(shard) as number) >= from || left * 2 > data.rows) return;
    const offset = this.offsets[shard] as number;
    for (let p = from, found = 0; found < left && p < order.length; p++) {
      const row = order[p] as number;
      if (row < offset || row >= offset + data.rows) continue;
      found++;
      const local = row - offset;
      this.rowCache.set(
        row,
        this.columns.map((c) => {
          const width = columnWidth(c);
          return (data.columns.get(c.name) as ColumnValues).slice(local * width, (local + 1) * width);
        }),
      );
    }
    this.drop(shard);
  }

  /**
   * The shards with rows at or after `start`, in the order of their first use; each one's last use
   * and how many of its rows are still to come.
   */
  private plan(order: Uint32Array, start: number): Plan {
    const firstUse = new Map<number, number>();
    const lastUse = new Map<number, number>();
    const remaining = new Map<number, number>();
    for (let p = start; p < order.length; p++) {
      const shard = shardOfRow(this.offsets, order[p] as number);
      if (!firstUse.has(shard)) firstUse.set(shard, p);
      lastUse.set(shard, p);
      remaining.set(shard, (remaining.get(shard) ?? 0) + 1);
    }
    const sequence = [...firstUse.keys()];
    return { firstUse, lastUse, remaining, sequence };
  }

  private fetch(shard: number): void {
    this.stats.fetched.push(shard);
    const entry = this.dataset.manifest.shards[shard];
    const load = this.store
      .readShard(this.dataset, shard)
      .then((bytes) =>
        decodeShardOffThread(bytes, this.columns, `dataset ${this.dataset.name} ${entry?.file}`),
      );
    load.then(
      (data) => this.loaded.has(shard) && this.ready.set(shard, data),
      () => undefined, // observed when gathered
    );
    this.loaded.set(shard, load);
  }

  private shardBytes(shard: number): number {
    return (this.dataset.manifest.shards[shard]?.rows ?? 0) * rowBytes(this.columns);
  }

  private heldBytes(): number {
    let bytes = 0;
    for (const shard of this.loaded.keys()) bytes += this.shardBytes(shard);
    return bytes + this.rowCache.size * rowBytes(this.columns);
  }

  private async gather(
    order: Uint32Array,
    start: number,
    end: number,
    remaining: Map<number, number>,
  ): Promise<RowBatch> {
    const rows = end - start;
    // The shards this batch reads, each awaited once (a shard already decoded costs no wait).
    const sources = new Map<number, ShardData | Promise<ShardData>>();
    for (let p = start; p < end; p++) {
      const row = order[p] as number;
      if (this.rowCache.has(row)) continue;
      const shard = shardOfRow(this.offsets, row);
      if (!sources.has(shard))
        sources.set(shard, this.ready.get(shard) ?? (this.loaded.get(shard) as Promise<ShardData>));
    }
    const values = new Map<number, ColumnValues[]>();
    for (const [shard, source] of sources) {
      const data = await source;
      values.set(
        shard,
        this.columns.map((c) => data.columns.get(c.name) as ColumnValues),
      );
    }
    const widths = this.columns.map(columnWidth);
    const targets = this.batchTargets(rows);
    for (let p = start; p < end; p++) {
      const row = order[p] as number;
      const shard = shardOfRow(this.offsets, row);
      remaining.set(shard, (remaining.get(shard) ?? 1) - 1);
      const at = p - start;
      const cached = this.rowCache.get(row);
      if (cached) this.rowCache.delete(row);
      const local = row - (this.offsets[shard] as number);
      const source = cached ? undefined : (values.get(shard) as ColumnValues[]);
      for (let c = 0; c < widths.length; c++) {
        const width = widths[c] as number;
        const from = cached
          ? (cached[c] as ColumnValues)
          : (source?.[c] as ColumnValues).subarray(local * width, (local + 1) * width);
        (targets[c] as ColumnValues).set(from, at * width);
      }
    }
    return {
      position: start,
      rows,
      columns: new Map(this.columns.map((c, i) => [c.name, targets[i] as ColumnValues])),
    };
  }

  /** Column arrays for a batch of `rows`: new ones, or with `reuseBatches` the window's own. */
  private batchTargets(rows: number): ColumnValues[] {
    if (!this.reuseBatches) return this.columns.map((c) => allocateColumn(c, rows));
    if (
      !this.batchBuffers ||
      (this.batchBuffers[0]?.length ?? 0) < rows * columnWidth(this.columns[0] as ColumnSpec)
    )
      this.batchBuffers = this.columns.map((c) => allocateColumn(c, rows));
    return this.batchBuffers.map((b, i) => b.subarray(0, rows * columnWidth(this.columns[i] as ColumnSpec)));
  }
}
