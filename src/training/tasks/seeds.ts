/** Helpers for task authors: seeded initializers, so a model built twice has the same weights. */
import seedrandom from 'seedrandom';
import { toNonZeroSeed } from '../rng';

/**
 * A sequence of nonzero seeds derived from the run seed: call it once per random initializer, in
 * build order (`glorotUniform({ seed: next() })`). tfjs falls back to Math.random for seed 0.
 */
export function createSeedSequence(seed: number, label = 'init'): () => number {
  const prng = seedrandom.alea(`dfit:${seed}:${label}`);
  return () => toNonZeroSeed(prng.int32());
}
