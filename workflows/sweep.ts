/**
 * sweep: a hyperparameter search as a durable workflow. Each phase (a batch of a grid or random
 * search, an ASHA rung, a PBT generation) runs its trials as `trainModel` child workflows with
 * deterministic ids, at most `concurrency` at once; between phases the sweep decides (promote/stop,
 * fork) from the metrics alone. Its decisions are history, so a crash of any worker or of the
 * server replays to the same decisions; each trial's own crash recovery is trainModel's.
 */
import * as wf from '@temporalio/workflow';
import type { TrainingResult } from '../src/contract';
import { RUN_NAME, STATUS, TASK, TRAIN_MODEL } from '../src/contract';
import type { SweepInput, SweepResult, SweepState, SweepStatus } from '../src/contract/sweep';
import { SWEEP_ID, sweepInputProblems, sweepStartProblems, TRIAL_RUNG } from '../src/contract/sweep';
import type { RunningTrials } from './sweep-controls';
import { catchUp, setupSweepControls } from './sweep-controls';
import type { TrialJob } from './sweep-plan';
import { applyFailure, applyRun, decide, initialState, markStarted, nextJobs } from './sweep-plan';
import { publishSweep, sweepProgressOf } from './sweep-visibility';

/**
 * Patch id: a sweep checks its ceilings and a parallel base spec's search when it starts (not after a
 * continue-as-new, so sweeps started before keep going); older histories replay without the check.
 */
const PATCH_START_CHECKS = 'sweep-start-checks';

export async function sweep(input: SweepInput, carried?: SweepState): Promise<SweepResult> {
  const problems = sweepInputProblems(input);
  if (!problems.length && !carried && wf.patched(PATCH_START_CHECKS))
    problems.push(...sweepStartProblems(input, wf.workflowInfo().workflowId));
  if (problems.length)
    throw wf.ApplicationFailure.nonRetryable(`invalid sweep: ${problems.join('; ')}`, 'InvalidSweepError');
  const state = carried ?? initialState(input);
  let status: SweepStatus = 'running';
  const publish = (s: SweepStatus) => publishSweep(input, state, (status = s));
  const running = setupSweepControls(
    state,
    () => sweepProgressOf(input, state, status),
    () =>
      publish(
        state.paused && status === 'running'
          ? 'paused'
          : !state.paused && status === 'paused'
            ? 'running'
            : status,
      ),
  );
  let runsThisExecution = 0;
  publish(state.paused ? 'paused' : 'running');

  for (;;) {
    if (state.paused && !state.stopRequested) {
      publish('paused');
      await wf.condition(() => !state.paused || state.stopRequested);
      publish('running');
    }
    if (state.stopRequested) break;
    const jobs = nextJobs(input, state, wf.workflowInfo().workflowId);
    if (jobs.length === 0) break;
    await runPhase(input, state, jobs, running, () => publish(state.paused ? 'paused' : 'running'));
    if (state.stopRequested) break; // a stopped phase is incomplete: no decisions from it
    decide(input, state);
    runsThisExecution += jobs.length;
    publish('running');
    if (runsThisExecution >= (input.continueAsNewEvery ?? 100) || wf.workflowInfo().continueAsNewSuggested) {
      await wf.condition(wf.allHandlersFinished);
      return wf.continueAsNew<typeof sweep>(input, state);
    }
  }
  const final = state.stopRequested ? 'stopped' : 'completed';
  publish(final);
  return sweepProgressOf(input, state, final);
}

/**
 * Starts the phase's trial runs in order, at most `concurrency` at once, none while paused or after
 * a stop; returns when every started run has ended.
 */
async function runPhase(
  input: SweepInput,
  state: SweepState,
  jobs: TrialJob[],
  running: RunningTrials,
  changed: () => void,
): Promise<void> {
  const limit = input.concurrency ?? 1;
  let active = 0;
  const started: Promise<void>[] = [];
  for (const job of jobs) {
    await wf.condition(() => state.stopRequested || (!state.paused && active < limit));
    if (state.stopRequested) break;
    active++;
    started.push(runTrial(input, state, job, running, changed).finally(() => void active--));
  }
  await Promise.all(started);
}

async function runTrial(
  input: SweepInput,
  state: SweepState,
  job: TrialJob,
  running: RunningTrials,
  changed: () => void,
): Promise<void> {
  markStarted(state, job);
  changed();
  try {
    const child = await wf.startChild<wf.Workflow>(TRAIN_MODEL, {
      workflowId: job.workflowId,
      args: [job.spec],
      typedSearchAttributes: [
        { key: SWEEP_ID, value: wf.workflowInfo().workflowId },
        { key: TRIAL_RUNG, value: job.targetEpochs },
        { key: TASK, value: input.task },
        { key: STATUS, value: 'starting' },
        { key: RUN_NAME, value: job.workflowId },
      ],
      staticSummary: `sweep trial ${job.trial}: ${JSON.stringify(job.spec.hparams)} to epoch ${job.targetEpochs}`,
    });
    running.set(job.workflowId, child);
    await catchUp(state, child);
    const result = (await child.result()) as TrainingResult;
    applyRun(input, state, job, result);
  } catch (err) {
    applyFailure(state, job, messageOf(err));
  } finally {
    running.delete(job.workflowId);
    changed();
  }
}

function messageOf(err: unknown): string {
  let e: unknown = err;
  while (e instanceof wf.TemporalFailure && e.cause) e = e.cause;
  return e instanceof Error ? e.message : String(e);
}
