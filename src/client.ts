/**
 * Starting and steering training runs from code (`durable-fit/client`): what the CLI uses, and what
 * users call. Safe in a plain client process: the signal and query definitions are plain objects,
 * and the workflow is known by its contract (src/contract), never imported.
 */
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { DurableFitOptions, Env } from './config/options';
import { DEFAULTS } from './config/options';
import { temporalConnectConfig } from './config/temporal';
import { processDataConverter } from './security/codec-data-converter';
import { parseSpec } from './spec';
import type { TrainingSpec, TrainingSpecInput } from './spec';
import { assertCkptUrl } from './checkpoint/keys';
import { assertMonitorKnown } from './checkpoint/monitor';
import { getTaskDescriptor, taskMetricNames, validateHparams } from './training/tasks/catalog';
import { RUN_NAME, STATUS, TASK, TRAIN_MODEL } from './contract';
import type { TrainModel } from './contract';

export type { TrainModel } from './contract';
/** A handle on a training run: `result()` is its `TrainingResult`. */
export type TrainingHandle = WorkflowHandle<TrainModel>;
/** The run's signals and queries: `handle.signal(pauseSignal)`, `handle.query(progressQuery)`. */
export {
  pauseSignal,
  resumeSignal,
  stopSignal,
  checkpointNowSignal,
  progressQuery,
  controlsQuery,
} from './contract';
/** Sweeps: `startSweep(client, input)` next to `startTraining` (README "Sweeps"). */
export { startSweep, sweepProgress, validateSweepInput, defaultSweepId } from './sweep/client';
/**
 * Your own task, known to this process without tfjs: register its descriptor (name, hparams schema,
 * metric names) and specs for it validate here; workers register the full task.
 */
export { registerTaskDescriptor } from './training/tasks/catalog';
export type { TaskDescriptor } from './training/tasks/catalog';
export type { TrainingResult, Progress } from './contract';
export type { TrainingSpecInput } from './spec';

/**
 * A connected Temporal client for the configured namespace. With encryption keys configured
 * (`DFIT_ENCRYPTION_KEYS_FILE` / `DFIT_ENCRYPTION_KEYS`) it encrypts what it sends and decrypts what
 * it reads, with the same data converter as the workers.
 */
export async function connectClient(options: DurableFitOptions, env: Env): Promise<Client> {
  const config = temporalConnectConfig(options, env);
  const dataConverter = processDataConverter(options); // read keys before connecting: a bad file fails fast
  const connection = await Connection.connect(config.connectionOptions);
  return new Client({
    connection,
    namespace: config.namespace ?? options.namespace,
    dataConverter,
  });
}

export interface StartTrainingOptions {
  /** @default `<task>-<timestamp>` */
  workflowId?: string;
  /** The task queue durable-fit's workers poll. @default 'durable-fit' */
  taskQueue?: string;
  /** Memo fields shown in the UI (e.g. a fork's parent). */
  memo?: Record<string, unknown>;
  /** The one-line summary the UI shows. @default `train <task> for <epochs> epochs (seed <seed>)` */
  summary?: string;
}

/**
 * Validates the spec here (the same checks the first activity makes, so mistakes fail before a
 * workflow exists) and starts `trainModel`. Returns its typed handle.
 */
export async function startTraining(
  client: Client,
  input: TrainingSpecInput,
  start: StartTrainingOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<TrainModel>> {
  const workflowId = start.workflowId ?? defaultWorkflowId(input);
  const spec = validateSpecInput(input, workflowId);
  return client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue: start.taskQueue ?? DEFAULTS.taskQueue,
    workflowId,
    args: [input],
    typedSearchAttributes: [
      { key: TASK, value: spec.task },
      { key: STATUS, value: 'starting' },
      { key: RUN_NAME, value: spec.runName ?? workflowId },
    ],
    ...(start.memo ? { memo: start.memo } : {}),
    staticSummary: start.summary ?? `train ${spec.task} for ${spec.epochs} epochs (seed ${spec.seed})`,
  });
}

/** The workflow id `start` uses when none is given: `<task>-<UTC time>`. */
export function defaultWorkflowId(input: { task?: unknown }): string {
  return `${String(input.task)}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
}

/**
 * Client-side checks: the spec, the task, its hparams and a `.ckpt` resumeFrom (throws
 * InvalidSpecError and friends). With the task's descriptor: no tfjs is loaded for this.
 */
export function validateSpecInput(input: unknown, workflowId: string): TrainingSpec {
  const spec = parseSpec(input, workflowId);
  const task = getTaskDescriptor(spec.task);
  validateHparams(task, spec.hparams);
  assertMonitorKnown(spec, taskMetricNames(task));
  if (spec.resumeFrom !== undefined) assertCkptUrl(spec.resumeFrom);
  return spec;
}
