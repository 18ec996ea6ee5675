/**
 * The data order of a data-parallel shard (README: Data-parallel training), defined once here.
 *
 * Data epoch d has the run's usual order P_d = epochOrder(seed, d, N). With K shards, shard s owns the
 * positions s, s + K, s + 2K, … of P_d, cut to m = floor(N / K) positions so every shard has the same
 * number of batches, ceil(m / B); the N mod K samples at the tail of P_d sit that epoch out (a new
 * order each epoch, so a different few). Shard s's global step t trains batch t mod ceil(m / B) of
 * data epoch floor(t / ceil(m / B)) of its slice. Slices are disjoint within an epoch and their union
 * is all but the tail: K shards see the same samples per data epoch as one worker.
 *
 * A shard's training session counts rounds as its "epochs": an epoch of the session is one round of
 * H steps, so the engine's "train to the end of epoch r" is "train round r".
 */

export interface ShardConfig {
  /** This shard's index s, 0 ≤ s < count. */
  index: number;
  /** Shards K. */
  count: number;
  /** Steps per round H (the session's batches per "epoch"). */
  steps: number;
}

/** Samples per shard per data epoch: m = floor(N / K). */
export function shardSamples(trainSize: number, count: number): number {
  return Math.floor(trainSize / count);
}

/** Batches of one shard per data epoch: ceil(m / B) (at least 1). */
export function shardBatchesPerEpoch(trainSize: number, count: number, batchSize: number): number {
  return Math.max(1, Math.ceil(shardSamples(trainSize, count) / batchSize));
}

/** Rounds of H steps that cover `epochs` data epochs of every shard (the last round may run over). */
export function parallelRounds(epochs: number, shardBatches: number, steps: number): number {
  return Math.ceil((epochs * shardBatches) / steps);
}

/** The data epoch and batch of a shard's global step t. */
export function shardPosition(step: number, shardBatches: number): { dataEpoch: number; batch: number } {
  return { dataEpoch: Math.floor(step / shardBatches), batch: step % shardBatches };
}

/**
 * The training rows of one shard batch: positions [b·B, min((b+1)·B, m)) of the shard's slice of
 * `order` (the data epoch's permutation), i.e. order[j·K + s].
 */
export function shardBatchRows(
  order: ArrayLike<number>,
  shard: { index: number; count: number },
  batchSize: number,
  batch: number,
): Uint32Array {
  const m = shardSamples(order.length, shard.count);
  const start = Math.min(batch * batchSize, m);
  const end = Math.min(start + batchSize, m);
  const rows = new Uint32Array(end - start);
  for (let j = start; j < end; j++) rows[j - start] = order[j * shard.count + shard.index] as number;
  return rows;
}

/** Refuses shard settings a session cannot train. */
export function shardProblem(shard: ShardConfig, trainSize: number): string | undefined {
  if (!Number.isSafeInteger(shard.count) || shard.count < 1) return 'shard count must be an integer ≥ 1';
  if (!Number.isSafeInteger(shard.index) || shard.index < 0 || shard.index >= shard.count)
    return `shard index ${shard.index} is not in [0, ${shard.count})`;
  if (!Number.isSafeInteger(shard.steps) || shard.steps < 1) return 'steps per round must be an integer ≥ 1';
  if (shardSamples(trainSize, shard.count) < 1)
    return `${shard.count} shards need at least ${shard.count} training samples (the dataset has ${trainSize})`;
  return undefined;
}
