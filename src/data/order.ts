/**
 * The global sample order of a streamed dataset for epoch e, from (seed, e) alone: a permutation of
 * the shards, then the rows of the shards in that order passed through a seeded shuffle buffer
 * (fill `bufferSize` rows; emit a random one and put the next row in its place). It does not depend
 * on how many workers or data-parallel shards read it: data-parallel shard s of K reads positions
 * s, s + K, s + 2K, … of the same order (as src/training/shard-order.ts does for in-memory data).
 *
 * A sample is named by its global row: the rows of the shards before it in the manifest plus its
 * row in its shard. The order is computed without reading any data, so a resume at position p
 * knows which shards it still needs before fetching any.
 */
import seedrandom from 'seedrandom';

export interface OrderSettings {
  seed: number;
  epoch: number;
  /** Rows in the shuffle buffer; 1 reads the shards' rows in order. */
  bufferSize: number;
}

/** The first global row of each shard (and the total at the end). */
export function shardOffsets(shardRows: readonly number[]): Float64Array {
  const offsets = new Float64Array(shardRows.length + 1);
  for (let i = 0; i < shardRows.length; i++)
    offsets[i + 1] = (offsets[i] as number) + (shardRows[i] as number);
  return offsets;
}

/** The shard holding a global row (binary search in the offsets). */
export function shardOfRow(offsets: Float64Array, row: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((offsets[mid] as number) <= row) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Epoch e's order of global rows. */
export function streamOrder(shardRows: readonly number[], settings: OrderSettings): Uint32Array {
  const { seed, epoch } = settings;
  const bufferSize = Math.max(1, Math.floor(settings.bufferSize));
  const offsets = shardOffsets(shardRows);
  const total = offsets[shardRows.length] as number;
  if (total > 0xffffffff)
    throw new RangeError(`a dataset of ${total} rows is over the 2^32 rows a stream orders`);
  const prng = seedrandom.alea(`dfit:data:${seed}:epoch:${epoch}`);
  const shards = Array.from(shardRows.keys());
  for (let i = shards.length - 1; i > 0; i--) {
    const j = Math.floor(prng() * (i + 1));
    [shards[i], shards[j]] = [shards[j] as number, shards[i] as number];
  }
  const out = new Uint32Array(total);
  const buffer = new Uint32Array(Math.min(bufferSize, total));
  let filled = 0;
  let emitted = 0;
  for (const shard of shards) {
    const first = offsets[shard] as number;
    const end = offsets[shard + 1] as number;
    for (let row = first; row < end; row++) {
      if (filled < buffer.length) {
        buffer[filled++] = row;
        continue;
      }
      const j = Math.floor(prng() * buffer.length);
      out[emitted++] = buffer[j] as number;
      buffer[j] = row;
    }
  }
  // Drain: emit the buffer's rows in a seeded random order.
  for (let i = filled - 1; i >= 0; i--) {
    const j = Math.floor(prng() * (i + 1));
    out[emitted++] = buffer[j] as number;
    buffer[j] = buffer[i] as number;
  }
  return out;
}

/** Data-parallel shard `index` of `count`: positions index, index + count, … cut to floor(N / count). */
export function sliceOrder(order: Uint32Array, index: number, count: number): Uint32Array {
  const m = Math.floor(order.length / count);
  const out = new Uint32Array(m);
  for (let j = 0; j < m; j++) out[j] = order[j * count + index] as number;
  return out;
}
