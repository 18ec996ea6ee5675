/**
 * PBT's exploit/explore step, between synchronous generations: the bottom quantile of the population
 * is replaced by forks of the top quantile (their weights, `initFrom` the top member's checkpoint),
 * with range hparams perturbed by a factor drawn from a PRNG seeded by the sweep seed and the
 * generation. Choices (e.g. `hidden`, which shapes the model) are copied, so the weights still fit.
 * Pure: the same metrics give the same forks.
 */
import type { SweepInput, SweepParam } from '../src/contract/sweep';
import type { Hparams } from './sweep-search';
import { createRandom, rankTrials, shape } from './sweep-search';

export const DEFAULT_QUANTILE = 0.25;
export const DEFAULT_PERTURB_FACTORS = [0.8, 1.25];

export interface Exploit {
  /** The member replaced. */
  target: string;
  /** The member whose weights and hparams it takes. */
  source: string;
  /** The source's hparams, perturbed. */
  hparams: Hparams;
}

/** The generations' end epochs: `interval`, `2 × interval`, …, `epochs`. */
export function pbtGenerations(input: SweepInput): number[] {
  const interval = input.search.kind === 'pbt' ? input.search.interval : input.epochs;
  const ends: number[] = [];
  for (let e = interval; e < input.epochs; e += interval) ends.push(e);
  ends.push(input.epochs);
  return ends;
}

/** How many members are replaced (and how many sources there are): floor(n × quantile), at least 1 when n ≥ 2. */
export function quantileCount(n: number, quantile: number): number {
  if (n < 2) return 0;
  return Math.min(Math.floor(n / 2), Math.max(1, Math.floor(n * quantile)));
}

/**
 * The forks after `generation`. Members are ranked by metric (ties: lower index first; no metric:
 * last); the i-th worst takes the i-th best as its source. Sources must have a checkpoint.
 */
export function exploit<T extends { id: string; metric?: number; hparams: Hparams; hasCheckpoint: boolean }>(
  members: readonly T[],
  input: SweepInput,
  generation: number,
): Exploit[] {
  const search = input.search.kind === 'pbt' ? input.search : undefined;
  const n = quantileCount(members.length, search?.quantile ?? DEFAULT_QUANTILE);
  const ranked = rankTrials(members, input.mode);
  const sources = ranked.filter((m) => m.hasCheckpoint && m.metric !== undefined).slice(0, n);
  if (sources.length === 0) return [];
  const targets = ranked.slice(-n).reverse(); // worst first
  const random = createRandom(`dfit:pbt:${input.seed}:${generation}`);
  const factors = search?.perturbFactors ?? DEFAULT_PERTURB_FACTORS;
  return targets
    .filter((t) => !sources.includes(t))
    .map((target, i) => {
      const source = sources[i % sources.length] as T;
      return {
        target: target.id,
        source: source.id,
        hparams: perturb(source.hparams, input, factors, random),
      };
    });
}

/** Each range hparam times a factor drawn from `factors`, kept inside its range; choices unchanged. */
export function perturb(
  hparams: Hparams,
  input: SweepInput,
  factors: readonly number[],
  random: () => number,
): Hparams {
  const out: Hparams = { ...hparams };
  for (const [name, param] of Object.entries(input.space) as [string, SweepParam][]) {
    if (param.kind !== 'range' || typeof out[name] !== 'number') continue;
    const factor = factors[Math.min(factors.length - 1, Math.floor(random() * factors.length))] ?? 1;
    out[name] = shape(param, (out[name] as number) * factor);
  }
  return out;
}
