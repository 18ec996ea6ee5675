/**
 * The sweep's plan as pure state transitions: which trial runs a phase starts (a batch of a grid or
 * random search, an ASHA rung, a PBT generation), what a finished run changes in the trial, and the
 * decisions between phases (promote/stop, exploit/explore). Given the same metrics it makes the same
 * decisions, so a replay — or a rerun after any crash — agrees with the original.
 */
import type { TrainingResult, TrainingSpecInput } from '../src/contract';
import type { SweepBest, SweepInput, SweepState, TrialRecord } from '../src/contract/sweep';
import { ashaRungs, DEFAULT_REDUCTION_FACTOR, promote } from './sweep-asha';
import { exploit, pbtGenerations } from './sweep-pbt';
import { planTrials, rankTrials } from './sweep-search';

/** One trial run (a `trainModel` child workflow). */
export interface TrialJob {
  trial: string;
  workflowId: string;
  spec: TrainingSpecInput;
  /** The trial's epochs when this run ends. */
  targetEpochs: number;
  /** The trial's epochs, and the run's own epoch cursor, when it starts. */
  epochsBefore: number;
  startCursor: number;
}

/**
 * What the state keeps, so that at the ceilings of SWEEP_LIMITS it stays under 1 MiB (it travels
 * through continue-as-new and is the result; Temporal refuses payloads over 2 MB): the metric history
 * of each trial is its most recent `historyLimit` points (500, fewer in sweeps of more than 10 trials);
 * the most recent decisions and forks; a decision and a trial's error are cut to a line.
 */
const HISTORY_LIMIT = 500;
const HISTORY_BUDGET = 5_000;
const DECISION_LIMIT = 200;
export const LINEAGE_LIMIT = 100;
const TEXT_LIMIT = 300;

/** History points kept per trial: 500, or fewer so that all trials together keep at most 5,000 (at least 10). */
export function historyLimit(trials: number): number {
  return Math.min(HISTORY_LIMIT, Math.max(10, Math.floor(HISTORY_BUDGET / Math.max(1, trials))));
}

function clip(text: string): string {
  return text.length <= TEXT_LIMIT ? text : `${text.slice(0, TEXT_LIMIT - 1)}…`;
}

function note(state: SweepState, text: string): void {
  const decision = clip(text);
  state.decisions.push(decision);
  if (state.decisions.length > DECISION_LIMIT)
    state.decisions.splice(0, state.decisions.length - DECISION_LIMIT);
}

export function initialState(input: SweepInput): SweepState {
  const trials = planTrials(input).map((hparams, i): TrialRecord => ({
    id: `t${String(i).padStart(2, '0')}`,
    hparams,
    state: 'pending',
    epochsDone: 0,
    history: [],
    runs: [],
  }));
  return {
    phase: 0,
    trials,
    lineage: [],
    decisions: [],
    runsDone: 0,
    epochsTrained: 0,
    paused: false,
    stopRequested: false,
  };
}

/** The runs of the current phase; none when the sweep is done. */
export function nextJobs(input: SweepInput, state: SweepState, sweepId: string): TrialJob[] {
  const s = input.search;
  if (s.kind === 'asha') {
    const rungs = ashaRungs(input);
    const target = rungs[state.phase];
    if (target === undefined) return [];
    const want = state.phase === 0 ? 'pending' : 'promoted';
    return state.trials
      .filter((t) => t.state === want)
      .map((t) => jobFor(input, t, target, `${sweepId}-${t.id}-r${state.phase}`));
  }
  if (s.kind === 'pbt') {
    const target = pbtGenerations(input)[state.phase];
    if (target === undefined) return [];
    return state.trials
      .filter((t) => t.state !== 'failed')
      .map((t) => jobFor(input, t, target, `${sweepId}-${t.id}-g${state.phase}`));
  }
  const batch = Math.max(1, input.continueAsNewEvery ?? 100);
  return state.trials
    .filter((t) => t.state === 'pending')
    .slice(0, batch)
    .map((t) => jobFor(input, t, input.epochs, `${sweepId}-${t.id}`));
}

/** A fresh run, a continuation from the trial's last checkpoint, or a fork from another member's. */
function jobFor(input: SweepInput, trial: TrialRecord, target: number, workflowId: string): TrialJob {
  const base = input.base ?? {};
  const more = target - trial.epochsDone;
  const spec: TrainingSpecInput = {
    ...base,
    task: input.task,
    seed: input.seed,
    epochs: more,
    hparams: { ...base.hparams, ...trial.hparams },
    // A trial keeps its last and its best checkpoint; a later run or a fork pins what it starts from.
    checkpoint: { keepLast: 1, topK: { k: 1, monitor: input.metric, mode: input.mode }, ...base.checkpoint },
  };
  let startCursor = 0;
  if (trial.forkFrom) {
    spec.forkedFrom = { workflowId: trial.forkFrom.run, ckpt: trial.forkFrom.ckpt.url };
  } else if (trial.lastCheckpoint) {
    startCursor = trial.lastCheckpoint.epoch;
    spec.resumeFrom = trial.lastCheckpoint.url;
    spec.epochs = startCursor + more;
  }
  return {
    trial: trial.id,
    workflowId,
    spec,
    targetEpochs: target,
    epochsBefore: trial.epochsDone,
    startCursor,
  };
}

/** A run of the trial has started: it is running, and its id joins the trial's runs. */
export function markStarted(state: SweepState, job: TrialJob): void {
  const trial = findTrial(state, job.trial);
  trial.state = 'running';
  trial.runs.push(job.workflowId);
}

/** Records a finished run in its trial: epochs, metric history, last checkpoint. */
export function applyRun(input: SweepInput, state: SweepState, job: TrialJob, result: TrainingResult): void {
  const trial = findTrial(state, job.trial);
  const toTrialEpoch = (cursor: number) => job.epochsBefore + cursor - job.startCursor;
  for (const e of result.epochs) {
    const value = e.metrics[input.metric];
    if (e.epoch >= job.startCursor && value !== undefined)
      trial.history.push([toTrialEpoch(e.epoch + 1), value]);
  }
  const keep = historyLimit(state.trials.length);
  if (trial.history.length > keep) trial.history.splice(0, trial.history.length - keep);
  const last = result.epochs[result.epochs.length - 1];
  const done = last && last.epoch >= job.startCursor ? toTrialEpoch(last.epoch + 1) : job.epochsBefore;
  state.epochsTrained += done - trial.epochsDone;
  trial.epochsDone = done;
  trial.metric = last?.metrics[input.metric] ?? trial.metric;
  trial.lastCheckpoint = result.finalCheckpoint;
  trial.weightsSha256 = result.weightsSha256 || trial.weightsSha256;
  delete trial.forkFrom;
  state.runsDone++;
  const full = result.status === 'completed' && done >= input.epochs;
  if (result.status === 'stopped') trial.state = 'stopped';
  else trial.state = full ? 'completed' : 'running';
}

export function applyFailure(state: SweepState, job: TrialJob, message: string): void {
  const trial = findTrial(state, job.trial);
  trial.state = 'failed';
  trial.error = clip(message);
  delete trial.forkFrom; // a failed trial runs no more
  state.runsDone++;
  note(state, `${job.trial} failed in ${job.workflowId}: ${message}`);
}

/** The decisions after a phase: ASHA promotes and stops, PBT forks; then the next phase. */
export function decide(input: SweepInput, state: SweepState): void {
  const s = input.search;
  const ran = state.trials.filter((t) => t.state === 'running');
  if (s.kind === 'asha' && ran.length) {
    const factor = s.reductionFactor ?? DEFAULT_REDUCTION_FACTOR;
    const promoted = new Set(promote(ran, factor, input.mode).map((t) => t.id));
    for (const t of ran) t.state = promoted.has(t.id) ? 'promoted' : 'stopped';
    for (const t of ran) t.rung = state.phase;
    note(
      state,
      `rung ${state.phase} (${ashaRungs(input)[state.phase]} epochs): promoted ${[...promoted].join(', ') || 'none'}; ` +
        `stopped ${
          ran
            .filter((t) => !promoted.has(t.id))
            .map((t) => t.id)
            .join(', ') || 'none'
        }`,
    );
  }
  if (s.kind === 'pbt' && ran.length) exploitGeneration(input, state, ran);
  state.phase++;
}

function exploitGeneration(input: SweepInput, state: SweepState, members: TrialRecord[]): void {
  const forks = exploit(
    members.map((m) => ({ ...m, hasCheckpoint: m.lastCheckpoint !== undefined })),
    input,
    state.phase,
  );
  for (const fork of forks) {
    const target = findTrial(state, fork.target);
    const source = findTrial(state, fork.source);
    const ckpt = source.lastCheckpoint;
    if (!ckpt) continue;
    state.lineage.push({
      generation: state.phase,
      trial: target.id,
      from: source.id,
      ckpt: ckpt.url,
      sha256: ckpt.sha256,
      hparams: fork.hparams,
      ...(target.metric !== undefined ? { metric: target.metric } : {}),
      ...(source.metric !== undefined ? { fromMetric: source.metric } : {}),
    });
    if (state.lineage.length > LINEAGE_LIMIT) state.lineage.splice(0, state.lineage.length - LINEAGE_LIMIT);
    note(
      state,
      `generation ${state.phase}: ${target.id} forks ${source.id} (${ckpt.url}) with ${JSON.stringify(fork.hparams)}`,
    );
    target.hparams = fork.hparams;
    target.forkFrom = { trial: source.id, run: source.runs[source.runs.length - 1] ?? '', ckpt };
    target.state = 'exploited';
  }
}

/** The best trial: by metric among those that trained the full epochs (else among all), ties to the lower index. */
export function bestTrial(input: SweepInput, state: SweepState): SweepBest | undefined {
  const scored = state.trials.filter(
    (t) => t.metric !== undefined && t.lastCheckpoint && t.state !== 'failed',
  );
  const full = scored.filter((t) => t.epochsDone >= input.epochs);
  const best = rankTrials(full.length ? full : scored, input.mode)[0];
  if (!best?.lastCheckpoint || best.metric === undefined) return undefined;
  return {
    trial: best.id,
    hparams: best.hparams,
    metric: best.metric,
    finalCheckpoint: best.lastCheckpoint,
    ...(best.weightsSha256 ? { weightsSha256: best.weightsSha256 } : {}),
  };
}

function findTrial(state: SweepState, id: string): TrialRecord {
  const trial = state.trials.find((t) => t.id === id);
  if (!trial) throw new Error(`sweep: no trial ${id}`);
  return trial;
}
