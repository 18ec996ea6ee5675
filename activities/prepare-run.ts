/** The first activity of a run: validate the spec and its `resumeFrom`, so bad input fails at once. */
import type { FailureKind } from '../src/failure-kind';
import type { CheckpointIO, LoadedSource } from '../src/checkpoint/checkpoint-io';
import type { RunFolder } from '../src/checkpoint/run-folder';
import { parseSpec } from '../src/spec';
import type { TrainingSpec } from '../src/spec';
import type { TrainingState } from '../src/state';
import { canonicalJson } from '../src/training/fingerprints';
import { assertMonitorKnown } from '../src/checkpoint/monitor';
import { getTask, taskMetricNames, validateHparams } from '../src/training/tasks';
import type { CheckpointRef, PreparedRun, PrepareRunInput } from '../src/contract';
import { assertS3Access } from './s3-errors';
import { pinStart, prepareRunFolder } from './run-folder';
import { defaultRunName } from '../src/checkpoint/keys';
import { Context } from '@temporalio/activity';
import { assertNoOtherWriter } from './folder-writers';
import type { DatasetStore } from '../src/data/dataset-store';
import { datasetReferences, withDatasets } from './run-datasets';

export interface PrepareRunDeps {
  store: CheckpointIO;
  runs: RunFolder;
  /** Where the run's dataset reference is resolved to one version (absent: left to the trainers). */
  datasets?: DatasetStore;
  log?: (message: string, meta?: Record<string, unknown>) => void;
}

/**
 * Applies defaults, checks task, hparams, S3 access and the explicit `resumeFrom` checkpoint (or a
 * fork's source): verified, its cursor the one its key names, recorded with the hash of its bytes.
 */
export async function prepareRun(deps: PrepareRunDeps, input: PrepareRunInput): Promise<PreparedRun> {
  const parsed = parseSpec(input.spec, defaultRunName(input.workflowId, input.firstExecutionRunId));
  const task = getTask(parsed.task);
  const checked = { ...parsed, hparams: validateHparams(task, parsed.hparams) };
  assertMonitorKnown(checked, taskMetricNames(task));
  const references = datasetReferences(task, checked);
  await assertS3Access(deps.runs, checked.runName ?? input.workflowId);
  // A fresh run (or a weights-only fork) reads the version its reference names now; a resume's
  // version depends on its checkpoint, read below.
  const spec = checked.resumeFrom ? checked : await withDatasets(deps.datasets, checked, references, {});
  await prepareRunFolder(deps.runs, spec, {
    holder: defaultRunName(input.workflowId, input.firstExecutionRunId), // unique per workflow run
    assertNoOtherWriter: () =>
      assertNoOtherWriter(activityContext(), spec.runName as string, input.workflowId, deps.log),
    ...(deps.log ? { log: deps.log } : {}),
  });
  if (!spec.resumeFrom && spec.forkedFrom)
    return pinStart(deps.runs, { spec, initFrom: await forkSource(deps, spec) });
  if (!spec.resumeFrom) return { spec };
  // The hash recorded is that of the bytes verified here (object metadata or not): every later load
  // of this checkpoint is checked against it, so the run resumes from exactly what was checked.
  const source = await deps.store.loadSource(spec.resumeFrom);
  const { meta } = source.state;
  if (meta.task !== spec.task) {
    throw new IncompatibleResumeError(
      spec.resumeFrom,
      `it was trained by task "${meta.task}", not "${spec.task}"`,
    );
  }
  const differences = runDifferences(meta, spec);
  if (differences.length > 0) throw new IncompatibleResumeError(spec.resumeFrom, differences.join('; '));
  if (meta.cursor.epoch > spec.epochs) {
    throw new IncompatibleResumeError(
      spec.resumeFrom,
      `it is already at epoch ${meta.cursor.epoch}; ask for epochs ≥ ${meta.cursor.epoch}`,
    );
  }
  const resumeFrom = refOf(spec.resumeFrom, source);
  const resumed = await withDatasets(deps.datasets, spec, references, meta);
  return pinStart(deps.runs, { spec: resumed, resumeFrom, resumeBackend: meta.backend });
}

/**
 * A fork with new hparams starts fresh from the parent's weights: the checkpoint must be verified
 * and of the same task (the engine checks the layer shapes when it loads the weights).
 */
async function forkSource(deps: PrepareRunDeps, spec: TrainingSpec): Promise<CheckpointRef> {
  const url = (spec.forkedFrom as { ckpt: string }).ckpt;
  const source = await deps.store.loadSource(url);
  const { meta } = source.state;
  if (meta.task !== spec.task) {
    throw new IncompatibleResumeError(
      url,
      `a fork must keep the task: it is "${meta.task}", not "${spec.task}"`,
    );
  }
  return refOf(url, source);
}

/** The record of a starting checkpoint: the hash and size of the bytes read, and its cursor. */
function refOf(url: string, source: LoadedSource): CheckpointRef {
  const { epoch, batch, step } = source.state.meta.cursor;
  return { url, sha256: source.sha256, bytes: source.bytes, epoch, batch, step };
}

/** What a resume must agree on with its checkpoint (the model topology follows from task + hparams). */
function runDifferences(meta: TrainingState['meta'], spec: TrainingSpec): string[] {
  const saved = meta.spec as { seed?: number; batchSize?: number };
  const diffs: string[] = [];
  for (const key of new Set([...Object.keys(meta.hparams), ...Object.keys(spec.hparams)])) {
    const [was, now] = [canonicalJson(meta.hparams[key]), canonicalJson(spec.hparams[key])];
    if (was !== now)
      diffs.push(`hparams.${key} is ${was ?? '(absent)'} in the checkpoint, ${now ?? '(absent)'} here`);
  }
  if (saved.seed !== spec.seed) diffs.push(`seed is ${saved.seed} in the checkpoint, ${spec.seed} here`);
  if (saved.batchSize !== spec.batchSize) {
    diffs.push(`batchSize is ${saved.batchSize} in the checkpoint, ${spec.batchSize} here`);
  }
  return diffs;
}

/** `resumeFrom` names a checkpoint this run cannot continue (another task or a finished run). */
export class IncompatibleResumeError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'IncompatibleResumeError';
  constructor(
    readonly url: string,
    readonly detail: string,
  ) {
    super(
      `cannot resume from ${url}: ${detail}. To start a new run from its weights, use \`durable-fit fork\`.`,
    );
  }
}

/** The running activity's context, or undefined when called outside one (unit tests). */
function activityContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}
