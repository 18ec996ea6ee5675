/**
 * Randomness the engine owns, so a resumed run draws exactly what the uninterrupted one drew:
 * seedrandom's `alea` (small, fast, with a serialisable state) for the per-step seed stream, and
 * stateless per-epoch data orders derived from (seed, epoch). Nothing here touches Math.random.
 */
import seedrandom from 'seedrandom';

/** What `meta.rng` holds in a checkpoint. */
export interface RngState {
  algorithm: 'alea';
  seed: number;
  /** alea's internal state ({c, s0, s1, s2}); plain numbers, exact through JSON. */
  stream: seedrandom.State.Alea;
}

/** The run's seed stream: one draw per training step, so its state advances with the cursor. */
export class RunRng {
  private constructor(
    private readonly seed: number,
    private readonly prng: seedrandom.StatefulPRNG<seedrandom.State.Alea>,
  ) {}

  static create(seed: number): RunRng {
    return new RunRng(seed, seedrandom.alea(`dfit:${seed}:steps`, { state: true }));
  }

  static restore(state: RngState): RunRng {
    if (state.algorithm !== 'alea') throw new Error(`unsupported rng algorithm ${String(state.algorithm)}`);
    return new RunRng(state.seed, seedrandom.alea('', { state: state.stream }));
  }

  /** A seed for this step's random ops: never 0, which tfjs treats as "no seed" (Math.random). */
  nextStepSeed(): number {
    return toNonZeroSeed(this.prng.int32());
  }

  state(): RngState {
    return { algorithm: 'alea', seed: this.seed, stream: { ...this.prng.state() } };
  }
}

/** A positive 31-bit seed from any 32-bit integer (never 0). */
export function toNonZeroSeed(value: number): number {
  return ((value >>> 0) % 2147483646) + 1;
}

/** Mixes a step seed with a layer's index so each random layer gets its own nonzero seed. */
export function layerSeed(stepSeed: number, layerIndex: number): number {
  return toNonZeroSeed(Math.imul(stepSeed ^ (layerIndex + 1), 0x9e3779b1));
}

/** The order of training samples in `epoch`: a Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochOrder(seed: number, epoch: number, size: number): Uint32Array {
  const prng = seedrandom.alea(`dfit:${seed}:epoch:${epoch}`);
  const order = new Uint32Array(size);
  for (let i = 0; i < size; i++) order[i] = i;
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(prng() * (i + 1));
    const tmp = order[i] as number;
    order[i] = order[j] as number;
    order[j] = tmp;
  }
  return order;
}

/** A deterministic generator for task code (datasets, initializer seeds); not part of run state. */
export function createPrng(label: string): () => number {
  return seedrandom.alea(label);
}
