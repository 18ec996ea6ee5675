/**
 * A run's datasets, resolved once by `prepareRun`: the training dataset (`spec.dataset`, else a
 * streaming task's own reference) and, where one is named, the validation dataset
 * (`spec.validationDataset`, else the task's `data.validation`). Each becomes `name@<64 hex>` in the
 * prepared spec, recorded in the activity's result, so every epoch, resume and shard of the run (and
 * a continue-as-new) reads exactly those versions, whatever is published later.
 */
import type { DatasetRef, DatasetStore } from '../src/data/dataset-store';
import { isPinnedRef, parseDatasetRef, pinnedRef } from '../src/data/dataset-store';
import { DatasetVersionMismatchError } from '../src/data/errors';
import type { TrainingSpec } from '../src/spec';
import { inMemoryDatasetMessage } from '../src/spec';
import type { DatasetBinding } from '../src/state';
import { InvalidRunConfigError } from '../src/training/errors';
import type { TaskDefinition } from '../src/training/tasks/types';

const FIELDS = ['dataset', 'validationDataset'] as const;
type Field = (typeof FIELDS)[number];

/** The references a run of this task reads, by spec field; a task with in-memory data refuses both. */
export type DatasetReferences = Partial<Record<Field, DatasetRef>>;

export function datasetReferences(task: TaskDefinition, spec: TrainingSpec): DatasetReferences {
  if (!task.data) {
    for (const field of FIELDS) {
      const given = spec[field];
      if (given !== undefined)
        throw new InvalidRunConfigError(field, inMemoryDatasetMessage(task.name, given));
    }
    return {};
  }
  const hparams = spec.hparams as never;
  const training = spec.dataset ?? task.data.dataset(hparams);
  const validation = spec.validationDataset ?? task.data.validation?.(hparams);
  return {
    dataset: parseDatasetRef(training),
    ...(validation !== undefined ? { validationDataset: parseDatasetRef(validation) } : {}),
  };
}

/**
 * The spec with each reference resolved. A resume (`trained`: its checkpoint's bindings) keeps the
 * checkpoint's version where the reference names none; a training dataset naming another version is
 * refused here, naming both (a validation dataset may change: it does not touch the weights).
 * Without a store (a worker built without one) a reference is passed on for the trainers to resolve,
 * as before this existed; a version prefix is then refused, since a trainer cannot list the bucket.
 */
export async function withDatasets(
  store: DatasetStore | undefined,
  spec: TrainingSpec,
  refs: DatasetReferences,
  trained: Partial<Record<Field, DatasetBinding>>,
): Promise<TrainingSpec> {
  let out = spec;
  for (const field of FIELDS) {
    const ref = refs[field];
    if (!ref) continue;
    const resolved = await resolveOne(store, field, ref, trained[field]);
    if (resolved === undefined) continue;
    if (field === 'dataset' && spec.resumeFrom) {
      const saved = trained.dataset;
      if (!saved || pinnedRef(saved) !== resolved)
        throw new DatasetVersionMismatchError(saved ? pinnedRef(saved) : 'in-memory data', resolved);
    }
    out = { ...out, [field]: resolved };
  }
  return out;
}

async function resolveOne(
  store: DatasetStore | undefined,
  field: Field,
  ref: DatasetRef,
  saved: DatasetBinding | undefined,
): Promise<string | undefined> {
  if (ref.version === undefined && saved?.name === ref.name) return pinnedRef(saved);
  if (store) return pinnedRef(await store.resolve(ref));
  if (ref.version !== undefined && !isPinnedRef(ref))
    throw new InvalidRunConfigError(
      field,
      `${ref.name}@${ref.version}: this worker cannot resolve a version prefix (it has no dataset ` +
        `store); write the version in full (\`durable-fit data ls ${ref.name}\` lists them)`,
    );
  return undefined;
}
