/**
 * Retention: which checkpoints of a run may be deleted. A pure function of the workflow's record
 * of checkpoints, so it is deterministic, replay-safe and testable; the deletion itself runs as an
 * activity. The kept set is the union of: the last K epoch-end checkpoints, the top K of them by a
 * monitored metric, intra-epoch checkpoints newer than the newest epoch end (the epoch under way),
 * pinned checkpoints (another run resumes or forks from them), the current resume target and any
 * checkpoint still being written. With neither `keepLast` nor `topK` set, everything is kept.
 */

/** One checkpoint as the workflow recorded it. */
export interface RetentionRecord {
  url: string;
  epoch: number;
  step: number;
  /** Metrics at this checkpoint, e.g. `{ valLoss: 0.31 }`. */
  metrics?: Readonly<Record<string, number>>;
  /**
   * Saved mid-epoch (or a stray object superseded by a recorded one): never ranked; kept only while
   * it is newer than every epoch-end checkpoint. @default false
   */
  intraEpoch?: boolean;
}

export interface TopKPolicy {
  k: number;
  /** Metric name to rank by; checkpoints without a finite value for it never rank. */
  monitor: string;
  /** `min` keeps the lowest values (a loss), `max` the highest (an accuracy). */
  mode: 'min' | 'max';
}

/** With neither `keepLast` nor `topK` set, nothing is deleted. */
export interface RetentionPolicy {
  /** Keep the K newest checkpoints by (epoch, step). */
  keepLast?: number;
  /** Keep the K best by a metric, plus the newest; ties go to the newer checkpoint. */
  topK?: TopKPolicy;
  /** URLs that are never deleted. */
  pinned?: readonly string[];
}

export interface RetentionContext {
  /** The checkpoint the run would resume from now: never deleted. */
  resumeTarget?: string;
  /** Checkpoints whose write may still be under way: never deleted. */
  inFlight?: readonly string[];
}

/** URLs to keep: every record the policy or the context protects. */
export function selectForKeeping(
  records: readonly RetentionRecord[],
  policy: RetentionPolicy,
  context: RetentionContext = {},
): Set<string> {
  const unique = dedupe(records);
  if (policy.keepLast === undefined && policy.topK === undefined) return new Set(unique.map((r) => r.url));
  const kept = new Set<string>([...(policy.pinned ?? []), ...(context.inFlight ?? [])]);
  if (context.resumeTarget !== undefined) kept.add(context.resumeTarget);
  const ends = unique.filter((r) => !r.intraEpoch);
  for (const r of newestFirst(ends).slice(0, count(policy.keepLast))) kept.add(r.url);
  const newestEnd = newestFirst(ends)[0];
  if (policy.topK) {
    for (const r of best(ends, policy.topK).slice(0, count(policy.topK.k))) kept.add(r.url);
    if (newestEnd) kept.add(newestEnd.url); // Lightning's save_last: the newest goes with the best k
  }
  // An intra-epoch checkpoint matters only while its epoch is under way: newer than every epoch end.
  for (const r of unique) if (r.intraEpoch && (!newestEnd || isAfter(r, newestEnd))) kept.add(r.url);
  return new Set(unique.map((r) => r.url).filter((url) => kept.has(url)));
}

/** URLs of the records to delete, in record order. */
export function selectForDeletion(
  records: readonly RetentionRecord[],
  policy: RetentionPolicy,
  context: RetentionContext = {},
): string[] {
  const kept = selectForKeeping(records, policy, context);
  return dedupe(records)
    .map((r) => r.url)
    .filter((url) => !kept.has(url));
}

function dedupe(records: readonly RetentionRecord[]): RetentionRecord[] {
  const seen = new Set<string>();
  return records.filter((r) => !seen.has(r.url) && seen.add(r.url) !== undefined);
}

function count(k: number | undefined): number {
  return k === undefined || !Number.isFinite(k) ? 0 : Math.max(0, Math.floor(k));
}

function isAfter(a: RetentionRecord, b: RetentionRecord): boolean {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.step > b.step);
}

function isNewer(a: RetentionRecord, b: RetentionRecord): number {
  return b.epoch - a.epoch || b.step - a.step || (a.url < b.url ? -1 : a.url > b.url ? 1 : 0);
}

function newestFirst(records: readonly RetentionRecord[]): RetentionRecord[] {
  return [...records].sort(isNewer);
}

function best(records: readonly RetentionRecord[], topK: TopKPolicy): RetentionRecord[] {
  const value = (r: RetentionRecord) => r.metrics?.[topK.monitor];
  const ranked = records.filter((r) => Number.isFinite(value(r)));
  const sign = topK.mode === 'min' ? 1 : -1;
  return ranked.sort((a, b) => sign * ((value(a) as number) - (value(b) as number)) || isNewer(a, b));
}
