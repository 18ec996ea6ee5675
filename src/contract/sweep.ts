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
  /** `[epochsDone, metric]` after every finished epoch (for the text plot). */
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
  lineage: LineageEvent[];
  /** Each decision in words, in order: what the sweep promoted, stopped or forked, and why. */
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
