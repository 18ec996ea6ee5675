/** What the sweep shows: its progress (query and result), search attributes and the UI's details line. */
import * as wf from '@temporalio/workflow';
import { STATUS, TASK } from '../src/contract';
import type { SweepInput, SweepProgress, SweepState, SweepStatus } from '../src/contract/sweep';
import { SWEEP_ID, SWEEP_METRIC } from '../src/contract/sweep';
import { bestTrial } from './sweep-plan';

export function sweepProgressOf(input: SweepInput, state: SweepState, status: SweepStatus): SweepProgress {
  const best = bestTrial(input, state);
  return {
    status,
    search: input.search.kind,
    metric: input.metric,
    mode: input.mode,
    phase: state.phase,
    trials: state.trials,
    lineage: state.lineage,
    decisions: state.decisions,
    epochsTrained: state.epochsTrained,
    ...(best ? { best } : {}),
  };
}

export function publishSweep(input: SweepInput, state: SweepState, status: SweepStatus): void {
  const best = bestTrial(input, state);
  wf.upsertSearchAttributes([
    { key: SWEEP_ID, value: wf.workflowInfo().workflowId },
    { key: TASK, value: input.task },
    { key: STATUS, value: status },
    ...(best ? [{ key: SWEEP_METRIC, value: best.metric }] : []),
  ]);
  const count = (s: string) => state.trials.filter((t) => t.state === s).length;
  const line =
    `${status} · ${input.search.kind} · phase ${state.phase} · ${state.trials.length} trials ` +
    `(${count('running')} running, ${count('completed')} completed, ${count('stopped')} stopped) · ` +
    `${state.epochsTrained} epochs` +
    (best ? ` · best ${best.trial} ${input.metric}=${best.metric.toPrecision(4)}` : '');
  wf.setCurrentDetails([`**${line}**`, '', ...state.decisions.slice(-20).map((d) => `- ${d}`)].join('\n'));
}
