/** Small statistics and timing helpers shared by the benchmarks. */

/**
 * Median with the range it came from: every figure the report shows is one of these. `ciLow`/`ciHigh`
 * bound a 95 % confidence interval of the median (distribution-free, from order statistics: no
 * normality assumed); with fewer than 6 samples no such interval exists and they are absent.
 */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
  ciLow?: number;
  ciHigh?: number;
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN, n: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const s: Summary = { median: median(sorted), min: sorted[0]!, max: sorted.at(-1)!, n: sorted.length };
  const j = medianCiRank(sorted.length);
  if (j > 0) Object.assign(s, { ciLow: sorted[j - 1], ciHigh: sorted[sorted.length - j] });
  return s;
}

/**
 * The largest rank j (1-based) with P(Binomial(n, ½) < j) ≤ 2.5 %: [x(j), x(n+1−j)] then covers the
 * median with probability ≥ 95 %. 0 when no such interval exists (n < 6).
 */
export function medianCiRank(n: number): number {
  let cumulative = 0;
  let term = 0.5 ** n; // P(B = 0)
  let j = 0;
  for (let k = 0; k < n; k++) {
    cumulative += term;
    if (cumulative > 0.025) break;
    j = k + 1;
    term = (term * (n - k)) / (k + 1);
  }
  return j;
}

/** Least-squares slope of y over x, with its standard error (NaN with fewer than 3 points). */
export function slope(xs: readonly number[], ys: readonly number[]): { slope: number; stderr: number } {
  const n = Math.min(xs.length, ys.length);
  if (n < 3) return { slope: NaN, stderr: NaN };
  const mx = xs.slice(0, n).reduce((a, b) => a + b, 0) / n;
  const my = ys.slice(0, n).reduce((a, b) => a + b, 0) / n;
  let sxx = 0;
  let sxy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i]! - mx) ** 2;
    sxy += (xs[i]! - mx) * (ys[i]! - my);
  }
  const b = sxy / sxx;
  let sse = 0;
  for (let i = 0; i < n; i++) sse += (ys[i]! - my - b * (xs[i]! - mx)) ** 2;
  return { slope: b, stderr: Math.sqrt(sse / (n - 2) / sxx) };
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile, `p` in [0, 100]. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1] as number;
}

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  return (await timedValue(fn))[1];
}

export async function timedValue<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const value = await fn();
  return [value, performance.now() - start];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `median (min–max)`, plus `[95 % CI low–high]` where there is one, with `digits` decimals. */
export function formatSummary(s: Summary, digits = 2): string {
  if (s.n === 0) return 'n/a';
  const d = (x: number) => x.toFixed(digits);
  const ci = s.ciLow !== undefined && s.ciHigh !== undefined ? ` [${d(s.ciLow)}–${d(s.ciHigh)}]` : '';
  return `${d(s.median)} (${d(s.min)}–${d(s.max)})${ci}`;
}

/** Polls `probe` every `everyMs` until it returns a value; throws after `timeoutMs`. */
export async function pollFor<T>(
  probe: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 120_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}
