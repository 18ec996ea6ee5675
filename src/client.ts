/** Starting and steering training runs from code: what the CLI uses, and what users can call. */
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { DurableFitOptions, Env } from './config/options';
import { temporalConnectConfig } from './config/temporal';
import { parseSpec } from './spec';
import type { TrainingSpec, TrainingSpecInput } from './spec';
import { assertMonitorKnown } from './checkpoint/monitor';
import { getTask, taskMetricNames, validateHparams } from './training/tasks';
import { RUN_NAME, STATUS, TASK } from '../workflows/search-attributes';

/** A connected Temporal client for the configured namespace. */
export async function connectClient(options: DurableFitOptions, env: Env): Promise<Client> {
  const config = temporalConnectConfig(options, env);
  const connection = await Connection.connect(config.connectionOptions);
  return new Client({ connection, namespace: config.namespace ?? options.namespace });
}

export interface StartTrainingOptions {
  /** @default `<task>-<timestamp>` */
  workflowId?: string;
  /** @default options.taskQueue */
  taskQueue?: string;
}

/**
 * Validates the spec here (the same checks the first activity makes, so mistakes fail before a
 * workflow exists) and starts `trainModel`. Returns the handle.
 */
export async function startTraining(
  client: Client,
  options: DurableFitOptions,
  input: TrainingSpecInput,
  start: StartTrainingOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const workflowId = start.workflowId ?? defaultWorkflowId(input);
  const spec = validateSpecInput(input, workflowId);
  return client.workflow.start('trainModel', {
    taskQueue: start.taskQueue ?? options.taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: TASK, value: spec.task },
      { key: STATUS, value: 'starting' },
      { key: RUN_NAME, value: spec.runName ?? workflowId },
    ],
    staticSummary: `train ${spec.task} for ${spec.epochs} epochs (seed ${spec.seed})`,
  });
}

/** The workflow id `start` uses when none is given: `<task>-<UTC time>`. */
export function defaultWorkflowId(input: { task?: unknown }): string {
  return `${String(input.task)}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

/** Client-side checks: the spec, the task and its hparams (throws InvalidSpecError and friends). */
export function validateSpecInput(input: unknown, workflowId: string): TrainingSpec {
  const spec = parseSpec(input, workflowId);
  const task = getTask(spec.task);
  validateHparams(task, spec.hparams);
  assertMonitorKnown(spec, taskMetricNames(task));
  return spec;
}
