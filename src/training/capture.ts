/**
 * Full state capture and restore. Capture is two-phase: `captureRawState` copies tensors to host
 * memory (the only part that blocks training); `finalizeState` hashes the weights, and encoding and
 * upload happen later, outside the training loop (or in another process).
 */
import { DivergenceDetector } from './divergence';
import { CHECKPOINT_FORMAT_VERSION } from '../checkpoint/meta-codec';
import { DatasetVersionMismatchError } from '../data/errors';
import type { DatasetBinding, NamedTensor, TrainingState } from '../state';
import { isGraphBackend } from './backend';
import { checkResumable, computeFingerprints } from './fingerprints';
import { captureModelWeights, restoreModelWeights } from './model-weights';
import { captureOptimizer, restoreOptimizer } from './optimizer-state';
import { RunRng } from './rng';
import type { RngState } from './rng';
import type { TrainingSession } from './session';
import { computeWeightsSha256 } from './weights-hash';

/** Extra, JSON-serialisable fields to record in `meta.spec` (e.g. the workflow's TrainingSpec). */
export type SpecExtras = Record<string, unknown>;

/** Phase 1: host copies of weights, optimizer slots and run metadata. `weightsSha256` is empty. */
export function captureRawState(session: TrainingSession, specExtras: SpecExtras = {}): TrainingState {
  session.syncToHost();
  const { model, optimizer, weightNames, task, hparams, config, topology, backend } = session.parts;
  const weights = captureModelWeights(model, weightNames);
  const opt = captureOptimizer(optimizer, session.trainableNames);
  const tensors: NamedTensor[] = [...weights, ...opt.tensors];
  const { batch, lossSum, batches } = { ...session.cursor, ...session.progress };
  return {
    tensors,
    meta: {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      task: task.name,
      hparams,
      spec: {
        ...specExtras,
        task: task.name,
        hparams,
        seed: config.seed,
        batchSize: config.batchSize,
        epochs: config.epochs,
      },
      topology,
      optimizer: opt.state,
      cursor: { ...session.cursor },
      rng: session.rng.state(),
      metrics: session.metrics.map((m) => ({ ...m })),
      ...(batch > 0 ? { epochProgress: { lossSum, batches } } : {}),
      ...(session.divergence?.window.length ? { lossWindow: session.divergence.window } : {}),
      ...(session.parts.stream ? { dataset: { ...session.parts.stream.binding } } : {}),
      ...(session.parts.validation ? { validationDataset: { ...session.parts.validation } } : {}),
      fingerprints: computeFingerprints(task.name, hparams, topology),
      backend: {
        ...backend,
        ...(session.crossBackendResume ? { crossBackendResume: true } : {}),
        ...(isGraphBackend(backend.name) ? { stepMode: session.driver.mode } : {}),
      },
      weightsSha256: '',
      createdAt: new Date().toISOString(),
    },
  };
}

/** Phase 2: fills in `weightsSha256` (hashing can run off the training loop). */
export function finalizeState(state: TrainingState): TrainingState {
  return {
    tensors: state.tensors,
    meta: { ...state.meta, weightsSha256: computeWeightsSha256(state.tensors) },
  };
}

/** Both phases at once, for in-process use. */
export function captureState(session: TrainingSession, specExtras?: SpecExtras): TrainingState {
  return finalizeState(captureRawState(session, specExtras));
}

export interface RestoreOptions {
  /** Accept a checkpoint from another backend (results will differ in the last bits). @default false */
  allowBackendChange?: boolean;
}

/**
 * Restores a captured state into a session that has not trained yet. Refuses a state from another
 * task, hparams, seed, batch size, model or (unless allowed) backend, listing every difference.
 */
export function restoreState(
  session: TrainingSession,
  state: TrainingState,
  options: RestoreOptions = {},
): void {
  if (session.cursor.step !== 0) throw new Error('restoreState needs a fresh session (this one has trained)');
  const { meta, tensors } = state;
  const { model, optimizer, weightNames, task, hparams, config, topology, backend } = session.parts;
  // The dataset first: another version also changes the batches per epoch, a less telling refusal.
  checkDatasetBinding(meta.dataset, session.parts.stream?.binding);
  checkResumable(meta, {
    ...config,
    task: task.name,
    hparams,
    fingerprints: computeFingerprints(task.name, hparams, topology),
    backend,
    batchesPerEpoch: session.cursor.batchesPerEpoch,
    allowBackendChange: options.allowBackendChange ?? false,
  });
  if (meta.weightsSha256 && computeWeightsSha256(tensors) !== meta.weightsSha256) {
    throw new Error('checkpoint weights do not match its weightsSha256: the state is damaged');
  }
  restoreModelWeights(model, weightNames, tensors);
  restoreOptimizer(optimizer, meta.optimizer, tensors, session.trainableNames, session.trainable);
  session.rng = RunRng.restore(meta.rng as RngState);
  session.cursor = { ...meta.cursor };
  session.metrics = meta.metrics.map((m) => ({ ...m }));
  session.progress =
    meta.cursor.batch > 0 && meta.epochProgress ? { ...meta.epochProgress } : { lossSum: 0, batches: 0 };
  session.crossBackendResume = Boolean(meta.backend.crossBackendResume) || meta.backend.name !== backend.name;
  if (config.divergence) session.divergence = new DivergenceDetector(config.divergence, meta.lossWindow);
  session.hostWritten();
}

/** A checkpoint resumes only on the dataset version it was trained on (or both in memory). */
function checkDatasetBinding(saved: DatasetBinding | undefined, current: DatasetBinding | undefined): void {
  if (saved?.name === current?.name && saved?.version === current?.version) return;
  const label = (b: DatasetBinding | undefined) => (b ? `${b.name}@${b.version}` : 'in-memory data');
  throw new DatasetVersionMismatchError(label(saved), label(current));
}
