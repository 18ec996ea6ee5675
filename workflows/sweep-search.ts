/**
 * Where a sweep's trials come from: the points of a grid, or draws from the space with our own
 * seeded PRNG (workflow code is deterministic: no Math.random). Pure: the same seed and space give
 * the same trials, on every replay and every run.
 */
import type { SweepInput, SweepParam, SweepSpace } from '../src/contract/sweep';

export type Hparams = Record<string, unknown>;

/** A seeded PRNG (mulberry32 over an FNV-1a hash of the key): numbers in [0, 1). */
export function createRandom(key: string): () => number {
  let state = hashString(key);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function hashString(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The hparams of each trial, in trial order. */
export function planTrials(input: SweepInput): Hparams[] {
  if (input.search.kind === 'grid') return gridPoints(input.space);
  const random = createRandom(`dfit:sweep:${input.seed}`);
  return Array.from({ length: input.trials }, () => drawPoint(input.space, random));
}

/** Every combination of the choices, the first hparam varying slowest (names in key order). */
export function gridPoints(space: SweepSpace): Hparams[] {
  let points: Hparams[] = [{}];
  for (const [name, param] of Object.entries(space)) {
    const values = param.kind === 'choice' ? param.values : [param.min, param.max];
    points = points.flatMap((p) => values.map((v) => ({ ...p, [name]: v })));
  }
  return points;
}

export function drawPoint(space: SweepSpace, random: () => number): Hparams {
  const point: Hparams = {};
  for (const [name, param] of Object.entries(space)) point[name] = drawValue(param, random());
  return point;
}

/** The value at `u` in [0, 1) of a choice list or a (log-)range. */
export function drawValue(param: SweepParam, u: number): unknown {
  if (param.kind === 'choice')
    return param.values[Math.min(param.values.length - 1, Math.floor(u * param.values.length))];
  const x = param.log
    ? Math.exp(Math.log(param.min) + u * (Math.log(param.max) - Math.log(param.min)))
    : param.min + u * (param.max - param.min);
  return shape(param, x);
}

/** Clamped to the range, rounded to an integer or to 6 significant digits (readable hparams). */
export function shape(param: Extract<SweepParam, { kind: 'range' }>, x: number): number {
  const clamped = Math.min(param.max, Math.max(param.min, x));
  return param.integer ? Math.round(clamped) : Number(clamped.toPrecision(6));
}

/** The metric's better value first: `min` mode ranks low values first; missing values rank last. */
export function compareMetric(mode: 'min' | 'max', a: number | undefined, b: number | undefined): number {
  const ok = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);
  if (!ok(a)) return ok(b) ? 1 : 0;
  if (!ok(b)) return -1;
  return mode === 'min' ? a - b : b - a;
}

/** Trials ranked best first by their metric; ties keep trial order (a stable sort), so ranks are deterministic. */
export function rankTrials<T extends { metric?: number }>(trials: readonly T[], mode: 'min' | 'max'): T[] {
  return [...trials].sort((a, b) => compareMetric(mode, a.metric, b.metric));
}
