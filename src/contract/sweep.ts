/**
 * The contract of the `sweep` workflow (hyperparameter search over `trainModel` child runs): its
 * input, durable state, progress and result, its signals and queries, its search attributes, and
 * the input checks both the client and the workflow make. Plain values and pure functions only.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery } from '@temporalio/workflow';
import type { CheckpointRef } from './activities';
import type { TrainingSpecInput } from '../spec';

/** One hyperparameter's search space: a list of choices, or a (log-)range of numbers. */
export type SweepParam =
  | { kind: 'choice'; values: (number | string | boolean)[] }
  | { kind: 'range'; min: number; max: number; log?: boolean; integer?: boolean };

export type SweepSpace = Record<string, SweepParam>;

export type SweepSearch =
  /** Every combination of the choices (ranges are not allowed); `trials` is ignored. */
  | { kind: 'grid' }
  /** `trials` points drawn with the sweep's seed: the same seed gives the same trials. */
  | { kind: 'random' }
  /**
   * Successive halving over rungs of epochs: every trial runs to the first rung, the best
   * 1/`reductionFactor` of a rung continue (from their final `.ckpt`) to the next. Rungs are
   * `minEpochs × reductionFactor^k` below `epochs`, then `epochs`, unless given.
   */
  | { kind: 'asha'; reductionFactor?: number; minEpochs?: number; rungs?: number[] }
  /**
   * Population-based training: `trials` members train in generations of `interval` epochs; after
   * each, the bottom `quantile` restart from the weights of a top-`quantile` member (a fork) with
   * its hparams, each range hparam multiplied by one of `perturbFactors`.
   */
  | { kind: 'pbt'; interval: number; quantile?: number; perturbFactors?: number[] };

export interface SweepInput {
  task: string;
  /** Seeds the search (random draws, perturbations) and every trial's training. */
  seed: number;
  /** Epochs of a full trial (ASHA: the last rung; PBT: of every member). */
  epochs: number;
  /** Number of trials (random, ASHA) or the population (PBT); a grid has as many as it has points. */
  trials: number;
  space: SweepSpace;
  search: SweepSearch;
  /** Trials running at once. @default 1 */
  concurrency?: number;
  /** The metric trials are ranked by, e.g. `valLoss` or `valAccuracy`. */
  metric: string;
  mode: 'min' | 'max';
  /** The rest of every trial's spec (batchSize, fixed hparams, recovery); hparams from the space win. */
  base?: Partial<TrainingSpecInput>;
  /** Continue-as-new after this many trial runs in one workflow run. @default 100 */
  continueAsNewEvery?: number;
}

export type TrialState =
  'pending' | 'running' | 'promoted' | 'stopped' | 'exploited' | 'completed' | 'failed';

/** A fork of PBT: `trial` restarted from `from`'s checkpoint with new hparams. */
export interface LineageEvent {
  generation: number;
  trial: string;
  from: string;
  ckpt: string;
  /** The source's checkpoint hash: the fork's run verifies it before loading (bit-exact start). */
  sha256: string;
  hparams: Record<string, unknown>;
  /** The trial's metric before it was replaced, and its source's. */
  metric?: number;
  fromMetric?: number;
}

export interface TrialRecord {
  /** `t00`, `t01`, …: the trial's runs are `<sweepId>-<id>[-r<rung> | -g<generation>]`. */
  id: string;
  hparams: Record<string, unknown>;
  state: TrialState;
  /** Epochs trained so far over all of the trial's runs. */
  epochsDone: number;
  /** The metric after the trial's last finished epoch. */
  metric?: number;
  /** `[epochsDone, metric]` after each finished epoch, the most recent 500 (fewer in sweeps of over 10 trials). */
  history: [number, number][];
  /** The trial's newest durable checkpoint: the next run resumes (or a fork starts) from it. */
  lastCheckpoint?: CheckpointRef;
  weightsSha256?: string;
  /** Child workflow ids, oldest first. */
  runs: string[];
  /** ASHA: the index of the last rung it reached. */
  rung?: number;
  /** PBT: the fork its next run starts from (weights of another member's checkpoint). */
  forkFrom?: { trial: string; run: string; ckpt: CheckpointRef };
  error?: string;
}

export interface SweepState {
  /** Rung (ASHA), generation (PBT) or batch (grid, random) the sweep is in. */
  phase: number;
  trials: TrialRecord[];
  /** The most recent forks (at most 100), oldest first. */
  lineage: LineageEvent[];
  /** Each decision in words, in order (the most recent 200): what the sweep promoted, stopped or forked, and why. */
  decisions: string[];
  /** Trial runs finished over the whole sweep. */
  runsDone: number;
  /** Epochs trained over the whole sweep. */
  epochsTrained: number;
  paused: boolean;
  stopRequested: boolean;
}

export type SweepStatus = 'running' | 'paused' | 'completed' | 'stopped';

export interface SweepBest {
  trial: string;
  hparams: Record<string, unknown>;
  metric: number;
  finalCheckpoint: CheckpointRef;
  weightsSha256?: string;
}

/** The `sweepProgress` query's answer and (with a final status) the workflow's result. */
export interface SweepProgress {
  status: SweepStatus;
  search: SweepSearch['kind'];
  metric: string;
  mode: 'min' | 'max';
  phase: number;
  trials: TrialRecord[];
  lineage: LineageEvent[];
  decisions: string[];
  epochsTrained: number;
  best?: SweepBest;
}

export type SweepResult = SweepProgress;

/** The sweep workflow's registered name. */
export const SWEEP = 'sweep';
/** The sweep workflow's signature, for typed handles. */
export type Sweep = (input: SweepInput, carried?: SweepState) => Promise<SweepResult>;

/** Trials, lineage, decisions and the best trial so far. */
export const sweepProgressQuery = defineQuery<SweepProgress>('sweepProgress');

/** The sweep's id, on the sweep and on each of its trial runs: `DfitSweepId="s1"` lists them all. */
export const SWEEP_ID = defineSearchAttributeKey('DfitSweepId', SearchAttributeType.KEYWORD);
/** A trial run's target epochs (its ASHA rung or PBT generation end). */
export const TRIAL_RUNG = defineSearchAttributeKey('DfitTrialRung', SearchAttributeType.INT);
/** The sweep's best metric so far. */
export const SWEEP_METRIC = defineSearchAttributeKey('DfitSweepMetric', SearchAttributeType.DOUBLE);

/**
 * Ceilings on a sweep (README: Sweeps, "Limits"). The sweep's state (every trial's record, the recent
 * lineage and decisions) travels through continue-as-new and is its result, and Temporal refuses a
 * payload over 2 MB; at these caps it stays under 1 MiB (test/unit/sweep-limits.test.ts measures it).
 */
export const SWEEP_LIMITS = {
  /** Trials of a random or ASHA search, PBT's population, and the points of a grid. */
  trials: 500,
  /** Trial runs (child workflows) over the whole sweep: ASHA's rung runs, PBT's trials × generations. */
  trialRuns: 2_000,
  /** The sweep input as JSON: the space, the base spec and the rest. */
  inputBytes: 32 * 1024,
  /** One trial's hyperparameters from the space, as JSON, at their longest. */
  trialHparamsBytes: 256,
  /** The sweep's workflow id (each trial run's id and run folder start with it). */
  sweepIdChars: 64,
};

/** UTF-8 length (TextEncoder: the workflow sandbox has no Buffer). */
export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Points of a grid over the space: the product of the choice counts (never built here). */
export function gridSize(space: SweepSpace): number {
  return Object.values(space ?? {}).reduce(
    (n, p) => n * (p?.kind === 'choice' && Array.isArray(p.values) ? p.values.length : 2),
    1,
  );
}

/** ASHA's reduction factor when the input gives none. */
export const DEFAULT_REDUCTION_FACTOR = 3;

/** ASHA's rungs' epochs: the given ones, or `minEpochs × factor^k` below `epochs`, then `epochs`. */
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

/** How many of `n` trials at an ASHA rung go on to the next: n / factor, at least one. */
export function promotedCount(n: number, factor: number): number {
  return Math.max(1, Math.floor(n / factor));
}

/** PBT's generations: ceil(epochs / interval) (the last one may be shorter). */
export function pbtGenerationCount(input: SweepInput): number {
  const interval = input.search.kind === 'pbt' ? input.search.interval : input.epochs;
  return Math.ceil(input.epochs / interval);
}

/** The trial runs a sweep starts at most: one per trial (grid, random), per rung reached (ASHA) or per generation (PBT). */
export function plannedTrialRuns(input: SweepInput): number {
  const s = input.search;
  const trials = s.kind === 'grid' ? gridSize(input.space) : input.trials;
  if (s.kind === 'pbt') return trials * pbtGenerationCount(input);
  if (s.kind !== 'asha') return trials;
  const factor = s.reductionFactor ?? DEFAULT_REDUCTION_FACTOR;
  if (!(factor >= 2)) return trials; // refused by sweepInputProblems (and its rungs would never end)
  let [alive, runs] = [trials, 0];
  for (let rung = 0; rung < ashaRungs(input).length; rung++) {
    runs += alive;
    alive = promotedCount(alive, factor);
  }
  return runs;
}

/** The longest JSON of one trial's hyperparameters from the space (a range's value: a number, ≤ 24 characters). */
export function trialHparamsBytes(space: SweepSpace): number {
  let bytes = 2; // {}
  for (const [name, p] of Object.entries(space ?? {})) {
    const longest =
      p?.kind === 'choice' && Array.isArray(p.values)
        ? p.values.reduce((most: number, v) => Math.max(most, utf8Bytes(JSON.stringify(v) ?? '')), 0)
        : 24;
    bytes += utf8Bytes(JSON.stringify(name)) + 1 + longest + 1; // "name":value,
  }
  return bytes;
}

/**
 * What keeps a sweep from starting beyond what it checks every run (`sweepInputProblems`): the
 * ceilings of `SWEEP_LIMITS`, and searches a data-parallel base spec cannot run. The client checks
 * these before it starts a sweep; the workflow checks them when it starts (not after a
 * continue-as-new). Each problem says the limit and what to do.
 */
export function sweepStartProblems(input: SweepInput, sweepId?: string): string[] {
  const L = SWEEP_LIMITS;
  const problems: string[] = [];
  const inputBytes = utf8Bytes(JSON.stringify(input) ?? '');
  if (inputBytes > L.inputBytes)
    problems.push(
      `input: ${inputBytes} bytes as JSON, over the limit of ${L.inputBytes}: use fewer or shorter choices in the space and a smaller base spec`,
    );
  if (sweepId !== undefined && sweepId.length > L.sweepIdChars)
    problems.push(
      `id: ${sweepId.length} characters, over the limit of ${L.sweepIdChars}: give a shorter --workflow-id (trial runs are named <sweepId>-tNNN-…)`,
    );
  const grid = input.search?.kind === 'grid';
  const trials = grid ? gridSize(input.space) : input.trials;
  if (Number.isFinite(trials) && trials > L.trials)
    problems.push(
      grid
        ? `space: the grid has ${trials} points, over the limit of ${L.trials} trials: give fewer choices, or use --search random with --trials ${L.trials} or fewer`
        : `trials: ${trials} is over the limit of ${L.trials}: use --trials ${L.trials} or fewer (start more sweeps for more)`,
    );
  else if (input.search?.kind === 'pbt' || input.search?.kind === 'asha') {
    const runs = plannedTrialRuns(input);
    if (Number.isFinite(runs) && runs > L.trialRuns)
      problems.push(
        input.search.kind === 'pbt'
          ? `search: ${trials} members × ${pbtGenerationCount(input)} generations make ${runs} trial runs, over the limit of ${L.trialRuns}: use fewer --trials or a longer --interval`
          : `search: ASHA's rungs make ${runs} trial runs, over the limit of ${L.trialRuns}: use fewer --trials, fewer rungs or a larger --reduction-factor`,
      );
  }
  const hparamsBytes = trialHparamsBytes(input.space);
  if (hparamsBytes > L.trialHparamsBytes)
    problems.push(
      `space: a trial's hyperparameters take up to ${hparamsBytes} bytes as JSON, over the limit of ${L.trialHparamsBytes}: use fewer hyperparameters or shorter names and choices`,
    );
  const kind = input.search?.kind;
  if (input.base?.parallel !== undefined && (kind === 'asha' || kind === 'pbt'))
    problems.push(
      `search: ${kind} continues or forks trials from their checkpoints, which a data-parallel run (base.parallel) cannot start from: ` +
        `use --search grid or random with a parallel base spec, or drop parallel from the base spec`,
    );
  return problems;
}

/** What is wrong with a sweep input, each with what to do; empty when it can run. */
export function sweepInputProblems(input: SweepInput): string[] {
  const problems: string[] = [];
  const positive = (n: unknown) => typeof n === 'number' && Number.isInteger(n) && n > 0;
  if (typeof input.task !== 'string' || !input.task)
    problems.push('task: name a task (see `durable-fit tasks`)');
  if (!Number.isInteger(input.seed)) problems.push('seed: must be an integer');
  if (!positive(input.epochs)) problems.push('epochs: must be a positive integer');
  if (!positive(input.trials)) problems.push('trials: must be a positive integer');
  if (input.concurrency !== undefined && !positive(input.concurrency))
    problems.push('concurrency: must be a positive integer');
  if (!input.metric) problems.push('metric: name the metric to rank trials by, e.g. valLoss');
  if (input.mode !== 'min' && input.mode !== 'max') problems.push('mode: must be min or max');
  const names = Object.keys(input.space ?? {});
  if (names.length === 0)
    problems.push('space: give at least one hyperparameter, e.g. learningRate=log:1e-4..1e-2');
  for (const name of names)
    problems.push(...paramProblems(name, input.space[name] as SweepParam, input.search));
  problems.push(...searchProblems(input));
  return problems;
}

function paramProblems(name: string, p: SweepParam, search: SweepSearch): string[] {
  if (p.kind === 'choice') return p.values.length ? [] : [`space.${name}: give at least one choice`];
  const out: string[] = [];
  if (!(Number.isFinite(p.min) && Number.isFinite(p.max) && p.min <= p.max))
    out.push(`space.${name}: a range needs finite min <= max`);
  if (p.log && !(p.min > 0)) out.push(`space.${name}: a log range needs min > 0`);
  if (search?.kind === 'grid') out.push(`space.${name}: grid search needs choices (a,b,c), not a range`);
  return out;
}

function searchProblems(input: SweepInput): string[] {
  const s = input.search;
  if (s?.kind === 'asha') {
    if (s.reductionFactor !== undefined && !(s.reductionFactor >= 2))
      return ['search.reductionFactor: must be at least 2'];
    const bad = (s.rungs ?? []).some(
      (r, i, all) => !(Number.isInteger(r) && r > 0 && (i === 0 || r > all[i - 1]!)),
    );
    if (bad) return ['search.rungs: must be increasing positive integers'];
    if (s.rungs?.length && s.rungs[s.rungs.length - 1] !== input.epochs)
      return ['search.rungs: the last rung must equal epochs'];
    return [];
  }
  if (s?.kind === 'pbt') {
    if (!(Number.isInteger(s.interval) && s.interval > 0))
      return ['search.interval: must be a positive integer'];
    if (s.quantile !== undefined && !(s.quantile > 0 && s.quantile <= 0.5))
      return ['search.quantile: must be in (0, 0.5]'];
    if (s.perturbFactors !== undefined && !s.perturbFactors.every((f) => f > 0))
      return ['search.perturbFactors: must be positive numbers'];
    return [];
  }
  if (s?.kind === 'grid' || s?.kind === 'random') return [];
  return ['search: must be grid, random, asha or pbt'];
}
