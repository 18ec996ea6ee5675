/**
 * Starting and reading sweeps from code (`startSweep`, next to `startTraining`): checks the sweep
 * input and a sample trial's spec here, so mistakes fail before a workflow exists, and returns a
 * typed handle whose `result()` is the sweep's `SweepResult`.
 */
import type { Client, WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { DEFAULTS } from '../config/options';
import { STATUS, TASK } from '../contract';
import type { Sweep, SweepInput, SweepProgress } from '../contract/sweep';
import {
  SWEEP,
  SWEEP_ID,
  sweepInputProblems,
  sweepProgressQuery,
  sweepStartProblems,
} from '../contract/sweep';
import { InvalidSpecError, parseSpec } from '../spec';
import { getTaskDescriptor, taskMetricNames, validateHparams } from '../training/tasks/catalog';

/** A handle on a sweep: `result()` is its `SweepResult`; `query(sweepProgressQuery)` its progress. */
export type SweepHandle = WorkflowHandle<Sweep>;

export interface StartSweepOptions {
  /** @default `sweep-<task>-<UTC time>` */
  workflowId?: string;
  /** The task queue durable-fit's workers poll (trials run there too). @default 'durable-fit' */
  taskQueue?: string;
}

/**
 * Throws InvalidSpecError naming every problem of the sweep input, its ceilings (SWEEP_LIMITS, and
 * `sweepId`'s length when given) and of its first trial's spec.
 */
export function validateSweepInput(input: SweepInput, sweepId?: string): void {
  const problems = sweepInputProblems(input);
  if (!problems.length) problems.push(...sweepStartProblems(input, sweepId));
  if (problems.length) throw new InvalidSpecError(problems.map((p) => `sweep ${p}`));
  const names = taskMetricNames(getTaskDescriptor(input.task));
  if (!names.includes(input.metric))
    throw new InvalidSpecError([`sweep metric: ${input.task} reports ${names.join(', ')}; pick one of them`]);
  // Every trial's spec is the base spec with hparams from the space: check one of each choice's ends.
  for (const hparams of sampleHparams(input)) {
    const spec = parseSpec(
      {
        ...input.base,
        task: input.task,
        seed: input.seed,
        epochs: input.epochs,
        hparams: { ...input.base?.hparams, ...hparams },
      },
      'sweep-check',
    );
    validateHparams(getTaskDescriptor(spec.task), spec.hparams);
  }
}

function sampleHparams(input: SweepInput): Record<string, unknown>[] {
  const low: Record<string, unknown> = {};
  const high: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(input.space)) {
    low[name] = p.kind === 'choice' ? p.values[0] : p.min;
    high[name] = p.kind === 'choice' ? p.values[p.values.length - 1] : p.max;
  }
  return [low, high];
}

export async function startSweep(
  client: Client,
  input: SweepInput,
  start: StartSweepOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<Sweep>> {
  const workflowId = start.workflowId ?? defaultSweepId(input);
  validateSweepInput(input, workflowId);
  return client.workflow.start<Sweep>(SWEEP, {
    taskQueue: start.taskQueue ?? DEFAULTS.taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: SWEEP_ID, value: workflowId },
      { key: TASK, value: input.task },
      { key: STATUS, value: 'running' },
    ],
    staticSummary: `sweep ${input.task}: ${input.search.kind}, ${input.trials} trials × ${input.epochs} epochs by ${input.metric} (${input.mode})`,
  });
}

/** The sweep's progress: trials, lineage, decisions, best trial. */
export async function sweepProgress(client: Client, sweepId: string): Promise<SweepProgress> {
  return client.workflow.getHandle<Sweep>(sweepId).query(sweepProgressQuery);
}

/** `sweep-<task>-<UTC time>`, the task cut to 32 characters (a sweep id has at most 64). */
export function defaultSweepId(input: { task?: unknown }): string {
  return `sweep-${String(input.task).slice(0, 32)}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}
