/**
 * Retention over what is really in a run's folder, not only what the workflow recorded: intra-epoch
 * checkpoints of finished epochs were written but never recorded, and a bounded workflow record
 * forgets old entries. Lists the folder, tells epoch ends from intra-epoch checkpoints, adds other
 * runs' pins, and applies the pure policy (`retention.ts`).
 */
import { pinnedCheckpoints } from './pins';
import type { RetentionPolicy, RetentionRecord } from './retention-policy';
import { selectForDeletion } from './retention-policy';
import type { CheckpointRecord } from './checkpoint-listing';
import type { RunFolder } from './run-folder';

/** A checkpoint as the workflow recorded it: its cursor says where in an epoch it was saved. */
export interface RecordedCheckpoint {
  url: string;
  epoch: number;
  batch: number;
  step: number;
}

export interface RunRetentionInput {
  runName: string;
  /** Checkpoints the workflow knows (epoch ends, intra-epoch ones from failures, resumeFrom). */
  recorded: readonly RecordedCheckpoint[];
  /** Epoch-end checkpoints with their metrics (top-K ranks by these). */
  epochEnds: readonly { url: string; metrics: Readonly<Record<string, number>> }[];
  policy: Omit<RetentionPolicy, 'pinned'>;
  /** Never deleted. */
  resumeTarget: string;
}

/** URLs in the run's folder that the policy no longer keeps. */
export async function planRetention(runs: RunFolder, input: RunRetentionInput): Promise<string[]> {
  if (input.policy.keepLast === undefined && input.policy.topK === undefined) return [];
  const [listed, pinned] = await Promise.all([
    runs.list(input.runName),
    pinnedCheckpoints(runs, input.runName),
  ]);
  const records = classify(listed, input);
  return selectForDeletion(records, { ...input.policy, pinned }, { resumeTarget: input.resumeTarget });
}

/**
 * Listed objects → retention records. A recorded checkpoint is an epoch end when its cursor is at
 * batch 0. An unrecorded one is placed by its key: with B batches per epoch (learnt from any
 * recorded cursor), `step - epoch × B` is its batch. A stray object at a recorded position (e.g. a
 * corrupt one a versioned key replaced) counts as superseded; anything that does not fit is kept.
 */
export function classify(listed: readonly CheckpointRecord[], input: RunRetentionInput): RetentionRecord[] {
  const recorded = new Map(input.recorded.map((r) => [r.url, r]));
  const metrics = new Map(input.epochEnds.map((e) => [e.url, e.metrics]));
  const here = new Set(listed.map((c) => c.url));
  const positions = new Set(input.recorded.filter((r) => here.has(r.url)).map((r) => `${r.epoch}:${r.step}`));
  const perEpoch = batchesPerEpoch(input.recorded);
  const out: RetentionRecord[] = [];
  for (const c of listed) {
    const base = { url: c.url, epoch: c.epoch, step: c.step };
    const known = recorded.get(c.url);
    if (known) {
      const end = known.batch === 0 || metrics.has(c.url);
      out.push(end ? { ...base, metrics: metrics.get(c.url) } : { ...base, intraEpoch: true });
    } else if (metrics.has(c.url)) {
      out.push({ ...base, metrics: metrics.get(c.url) });
    } else if (positions.has(`${c.epoch}:${c.step}`)) {
      out.push({ ...base, intraEpoch: true });
    } else if (perEpoch !== undefined) {
      const batch = c.step - c.epoch * perEpoch;
      if (batch === 0) out.push(base);
      else if (batch > 0 && batch < perEpoch) out.push({ ...base, intraEpoch: true });
    }
  }
  return out;
}

function batchesPerEpoch(recorded: readonly RecordedCheckpoint[]): number | undefined {
  for (const r of recorded) {
    const perEpoch = (r.step - r.batch) / r.epoch;
    if (r.epoch > 0 && Number.isSafeInteger(perEpoch) && perEpoch > 0) return perEpoch;
  }
  return undefined;
}

/** A data-parallel run's retention input (README: Data-parallel training, Retention). */
export interface ParallelRetentionInput {
  runName: string;
  /** Merged rounds' globals with their metrics (top-K ranks by these). */
  globals: readonly { url: string; metrics: Readonly<Record<string, number>> }[];
  policy: Omit<RetentionPolicy, 'pinned'>;
  /** The current round's global: never deleted, and no shard object of its round or later is. */
  resumeTarget: string;
  /** The shards' results the next round starts from. */
  keep: readonly string[];
}

const PARALLEL_KEY = /\/parallel\/round=(\d+)\/(?:global|shard=\d+\/[^/]+)\.ckpt$/;

/**
 * URLs under `<run>/parallel/` that the policy no longer keeps. Round globals are ranked like epoch
 * ends (keep-last, top-K); shard checkpoints of rounds before the current one go, except `keep`.
 * Objects whose key does not parse, and pins of other runs, are kept.
 */
export async function planParallelRetention(
  runs: RunFolder,
  input: ParallelRetentionInput,
): Promise<string[]> {
  if (input.policy.keepLast === undefined && input.policy.topK === undefined) return [];
  const [listed, pinned] = await Promise.all([
    runs.listCkptUrlsUnder(input.runName, 'parallel'),
    pinnedCheckpoints(runs, input.runName),
  ]);
  return selectParallelDeletions(listed, input, pinned);
}

/** The pure part of `planParallelRetention`. */
export function selectParallelDeletions(
  listed: readonly string[],
  input: ParallelRetentionInput,
  pinned: readonly string[] = [],
): string[] {
  if (input.policy.keepLast === undefined && input.policy.topK === undefined) return [];
  const roundOf = (url: string) => Number(PARALLEL_KEY.exec(url)?.[1] ?? NaN);
  const current = roundOf(input.resumeTarget);
  const metrics = new Map(input.globals.map((g) => [g.url, g.metrics]));
  const globals: RetentionRecord[] = listed
    .filter((url) => url.endsWith('/global.ckpt') && Number.isFinite(roundOf(url)))
    .map((url) => ({ url, epoch: roundOf(url), step: 0, metrics: metrics.get(url) }));
  const doomedGlobals = selectForDeletion(
    globals,
    { ...input.policy, pinned },
    { resumeTarget: input.resumeTarget },
  );
  const protectedUrls = new Set([...input.keep, ...pinned, input.resumeTarget]);
  const doomedShards = listed.filter(
    (url) => !url.endsWith('/global.ckpt') && roundOf(url) < current && !protectedUrls.has(url),
  );
  return [...doomedGlobals, ...doomedShards];
}
