/**
 * The in-process engine: a warm `Trainer` holds the selected backend and a small dataset cache and
 * opens training sessions, fresh or restored from a state. The trainer process wraps one of these;
 * tests and benchmarks use it directly.
 */
import type { TrainingState } from '../state';
import type { BackendRequest } from './backend';
import { currentBackendInfo, selectBackend } from './backend';
import type { RestoreOptions } from './capture';
import { restoreState } from './capture';
import { BackendUnsupportedError, InvalidRunConfigError } from './errors';
import { canonicalJson, topologyOf } from './fingerprints';
import { graphDriverFor } from './graph';
import { weightNamesOf } from './model-weights';
import { createOptimizer } from './optimizer-state';
import type { RunConfig } from './session';
import { TrainingSession } from './session';
import { getTask, validateHparams } from './tasks';
import type { DatasetSplit, TaskData, TaskDataset, TaskDefinition } from './tasks/types';
import type { DatasetRef, DatasetStore, ResolvedDataset } from '../data/dataset-store';
import { parseDatasetRef, pinnedRef } from '../data/dataset-store';
import { loadValidationSplit } from './streamed-validation';
import { DEFAULT_WINDOW_BYTES } from '../data/stream';
import { StreamedTrain } from './streamed-train';
import type { BackendInfo, DatasetBinding } from '../state';
import { inMemoryDatasetMessage } from '../spec';

export interface TrainerOptions {
  /** Which tfjs backend to load (entry points pass DFIT_BACKEND). @default 'auto' */
  backend?: BackendRequest;
  /** Datasets kept for reuse across runs. @default 4 */
  datasetCacheSize?: number;
  /** Where tasks with `data` stream their training data from (docs/datasets.md). */
  datasets?: DatasetStore;
  /** Decoded shard bytes a streamed session holds at once. @default 256 MB */
  windowBytes?: number;
}

export class Trainer {
  private readonly datasets = new Map<string, TaskDataset>();
  /** The last validation split read from a dataset, by task, hparams and version. */
  private validation: { key: string; split: DatasetSplit } | undefined;

  private constructor(
    readonly backend: BackendInfo,
    private readonly cacheSize: number,
    private readonly streaming: Pick<TrainerOptions, 'datasets' | 'windowBytes'> = {},
  ) {}

  /** Selects and loads the backend; one per process (tfjs has one active backend). */
  static async create(options: TrainerOptions = {}): Promise<Trainer> {
    await selectBackend(options.backend ?? 'auto');
    return new Trainer(currentBackendInfo(), options.datasetCacheSize ?? 4, options);
  }

  /**
   * A session for `config`: a fresh model and optimizer, then `from` restored into them when given
   * (refused with the differences listed when it belongs to another run).
   */
  open(config: RunConfig, from?: TrainingState, options?: RestoreOptions): TrainingSession {
    return this.openWith(config, from, options, undefined);
  }

  /**
   * `open` for any task, including one that streams its training data (`task.data`): resolves its
   * dataset first — on a resume, the version the checkpoint was trained on unless `config.dataset`
   * names a version (a different one is then refused, naming both). A workflow run's config names
   * the version in full (`prepareRun` resolved it at start); resolving a name or prefix here is the
   * fallback for direct use and runs started before that. Validation rows come from
   * `config.validationDataset` or `task.data.validation` when either names a dataset.
   */
  async openSession(
    config: RunConfig,
    from?: TrainingState,
    options?: RestoreOptions,
  ): Promise<TrainingSession> {
    checkRunConfig(config);
    const task = getTask(config.task);
    if (!task.data) {
      for (const field of ['dataset', 'validationDataset'] as const) {
        const given = config[field];
        if (given !== undefined)
          throw new InvalidRunConfigError(field, inMemoryDatasetMessage(task.name, given));
      }
      return this.open(config, from, options);
    }
    const store = this.streaming.datasets;
    const ref = parseDatasetRef(
      config.dataset ?? task.data.dataset(validateHparams(task, config.hparams) as never),
    );
    if (!store)
      throw new InvalidRunConfigError(
        'task',
        `${task.name} streams dataset ${ref.name}: this trainer has no dataset store`,
      );
    const resolved = await store.resolve(keepSaved(ref, from?.meta.dataset));
    const validation = await this.validationFor(task, config, from, store);
    return this.openWith(config, from, options, { store, resolved, ...(validation ? { validation } : {}) });
  }

  /**
   * The validation split of a streamed task, when it comes from a dataset (`config.validationDataset`,
   * else `task.data.validation`): read once per version and kept for the next session.
   */
  private async validationFor(
    task: TaskDefinition,
    config: RunConfig,
    from: TrainingState | undefined,
    store: DatasetStore,
  ): Promise<{ binding: DatasetBinding; split: DatasetSplit } | undefined> {
    const hparams = validateHparams(task, config.hparams);
    const text = config.validationDataset ?? task.data?.validation?.(hparams as never);
    if (text === undefined || !task.data) return undefined;
    const resolved = await store.resolve(keepSaved(parseDatasetRef(text), from?.meta.validationDataset));
    const binding = { name: resolved.name, version: resolved.version };
    const key = `${task.name}:${canonicalJson(hparams)}:${pinnedRef(binding)}`;
    if (this.validation?.key !== key) {
      this.validation = undefined; // one split at a time: it may be large
      const { inputShape, labelShape } = this.datasetFor(task, hparams);
      const split = await loadValidationSplit(
        store,
        resolved,
        task.data as TaskData<never>,
        { inputShape, labelShape },
        this.streaming.windowBytes ?? DEFAULT_WINDOW_BYTES,
      );
      this.validation = { key, split };
    }
    return { binding, split: this.validation.split };
  }

  private openWith(
    config: RunConfig,
    from: TrainingState | undefined,
    options: RestoreOptions | undefined,
    streamed:
      | {
          store: DatasetStore;
          resolved: ResolvedDataset;
          validation?: { binding: DatasetBinding; split: DatasetSplit };
        }
      | undefined,
  ): TrainingSession {
    checkRunConfig(config);
    const task = getTask(config.task);
    const unsupported = task.unsupportedBackends?.[this.backend.name];
    if (unsupported) throw new BackendUnsupportedError(task.name, this.backend.name, unsupported);
    const hparams = validateHparams(task, config.hparams);
    if (task.data && !streamed)
      throw new InvalidRunConfigError(
        'task',
        `${task.name} streams its training data from a dataset, which only the in-process engine reads yet ` +
          '(`await trainer.openSession(…)` on a Trainer created with `datasets`; docs/datasets.md)',
      );
    const inMemory = this.datasetFor(task, hparams);
    const validation = streamed?.validation;
    const dataset = validation ? { ...inMemory, validation: validation.split } : inMemory;
    const model = task.buildModel(hparams, config.seed);
    let session: TrainingSession | undefined;
    try {
      const weightNames = weightNamesOf(model, task.name);
      const optimizer = createOptimizer(task.optimizer(hparams));
      const stream =
        task.data && streamed
          ? new StreamedTrain(streamed.store, streamed.resolved, task.data as TaskData<never>, dataset, {
              seed: config.seed,
              batchSize: config.batchSize,
              windowBytes: this.streaming.windowBytes ?? DEFAULT_WINDOW_BYTES,
              ...(config.shard ? { shard: config.shard } : {}),
            })
          : undefined;
      const parts = {
        task,
        hparams,
        config,
        dataset,
        model,
        optimizer,
        weightNames,
        backend: this.backend,
        ...(stream ? { stream } : {}),
        ...(validation ? { validation: validation.binding } : {}),
      };
      const driver = graphDriverFor(this.backend);
      session = new TrainingSession({ ...parts, topology: topologyOf(model), ...(driver ? { driver } : {}) });
      if (from) restoreState(session, from, options);
      return session;
    } catch (error) {
      if (session) session.dispose();
      else model.dispose();
      throw error;
    }
  }

  private datasetFor(task: TaskDefinition, hparams: Record<string, unknown>): TaskDataset {
    const key = `${task.name}:${task.datasetKey ? task.datasetKey(hparams) : canonicalJson(hparams)}`;
    let dataset = this.datasets.get(key);
    if (!dataset) {
      dataset = task.loadDataset(hparams);
      if (dataset.train.size < 1 && !task.data)
        throw new InvalidRunConfigError('dataset', `of task ${task.name} is empty`);
    }
    // Re-insert to keep the map in least-recently-used order, then trim.
    this.datasets.delete(key);
    this.datasets.set(key, dataset);
    while (this.datasets.size > this.cacheSize)
      this.datasets.delete(this.datasets.keys().next().value as string);
    return dataset;
  }
}

/** A reference without a version keeps the version a checkpoint recorded for that name. */
function keepSaved(ref: DatasetRef, saved: DatasetBinding | undefined): DatasetRef {
  return ref.version === undefined && saved?.name === ref.name ? { ...ref, version: saved.version } : ref;
}

function checkRunConfig(config: RunConfig): void {
  const checks: [keyof RunConfig, boolean, string][] = [
    ['seed', Number.isSafeInteger(config.seed), 'must be an integer'],
    [
      'batchSize',
      Number.isSafeInteger(config.batchSize) && config.batchSize >= 1,
      'must be a positive integer',
    ],
    ['epochs', Number.isSafeInteger(config.epochs) && config.epochs >= 0, 'must be a non-negative integer'],
  ];
  for (const [field, ok, detail] of checks) {
    if (!ok) throw new InvalidRunConfigError(field, `${detail} (got ${JSON.stringify(config[field])})`);
  }
}
