/**
 * ASHA's decisions, made one rung at a time so they depend only on the metrics, never on which trial
 * finished first: every trial still in the race trains to the rung's epochs; then the best
 * 1/reductionFactor of them are promoted to the next rung and the rest stop. Pure.
 */
import { DEFAULT_REDUCTION_FACTOR, ashaRungs, promotedCount } from '../src/contract/sweep';
import { rankTrials } from './sweep-search';

// Defined in the contract (the client counts a sweep's trial runs with them before it starts one).
export { ashaRungs, DEFAULT_REDUCTION_FACTOR, promotedCount };

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
