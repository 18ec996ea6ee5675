/**
 * ASHA's decisions, made one rung at a time so they depend only on the metrics, never on which trial
 * finished first: every trial still in the race trains to the rung's epochs; then the best
 * 1/reductionFactor of them are promoted to the next rung and the rest stop. Pure.
 */
import type { SweepInput } from '../src/contract/sweep';
import { rankTrials } from './sweep-search';

export const DEFAULT_REDUCTION_FACTOR = 3;

/** The rungs' epochs: the given ones, or `minEpochs × factor^k` below `epochs`, then `epochs`. */
export function ashaRungs(input: SweepInput): number[] {
  const s = input.search;
  if (s.kind !== 'asha') return [input.epochs];
  if (s.rungs?.length) return [...s.rungs];
  const factor = s.reductionFactor ?? DEFAULT_REDUCTION_FACTOR;
  const rungs: number[] = [];
  for (let r = Math.max(1, s.minEpochs ?? 1); r < input.epochs; r = Math.ceil(r * factor)) rungs.push(r);
  rungs.push(input.epochs);
  return rungs;
}

/** How many of `n` trials at a rung go on to the next: n / factor, at least one. */
export function promotedCount(n: number, factor: number): number {
  return Math.max(1, Math.floor(n / factor));
}

/**
 * The trials promoted from a rung, best first; ties go to the lower trial index. Trials without a
 * metric (failed) are never promoted.
 */
export function promote<T extends { id: string; metric?: number }>(
  atRung: readonly T[],
  factor: number,
  mode: 'min' | 'max',
): T[] {
  const ranked = rankTrials(
    atRung.filter((t) => t.metric !== undefined && Number.isFinite(t.metric)),
    mode,
  );
  return ranked.slice(0, promotedCount(atRung.length, factor));
}

/** Total epochs ASHA trains for `trials` trials that all report a metric (for comparison with a grid). */
export function ashaBudget(trials: number, rungs: readonly number[], factor: number): number {
  let alive = trials;
  let total = 0;
  let previous = 0;
  for (const rung of rungs) {
    total += alive * (rung - previous);
    previous = rung;
    alive = promotedCount(alive, factor);
  }
  return total;
}
