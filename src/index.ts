/**
 * durable-fit's public API (`durable-fit`). Import from here rather than from deep paths. Every name
 * is listed on purpose (no `export *`): test/unit/public-api.test.ts holds the list, and each name
 * the README, docs/, examples/ and the package test import from 'durable-fit'.
 */

/** Settings: `resolveOptions(process.env, overrides)` gives every option with its default. */
export { resolveOptions, redactOptions, DEFAULTS } from './config/options';
export type { DurableFitOptions } from './config/options';
/** Temporal connection settings through `@temporalio/envconfig`. */
export { temporalConnectConfig } from './config/temporal';

/** The training spec: schema, parsing with defaults, and its error. */
export { parseSpec, trainingSpecSchema, InvalidSpecError } from './spec';
export type { TrainingSpec, TrainingSpecInput } from './spec';

/** Starting runs from code, with the same checks as the CLI. */
export { connectClient, startTraining, validateSpecInput, defaultWorkflowId } from './client';
export type { StartTrainingOptions, TrainModel, TrainingHandle } from './client';
/** The run's signals and queries, for typed handles: `handle.signal(pauseSignal)`. */
export {
  pauseSignal,
  resumeSignal,
  stopSignal,
  checkpointNowSignal,
  progressQuery,
  controlsQuery,
} from './client';

/** Workers: the plugin for your own worker, or a ready-made one. */
export { DurableTrainingPlugin } from './worker/plugin';
export type { DurableTrainingPluginOptions } from './worker/plugin';
export { createWorker } from './worker/create-worker';
export type { CreateWorkerOptions, DurableFitWorker } from './worker/create-worker';
/** Payload encryption (README: Security): one data converter for workers, clients and the plugin. */
export { dataConverterFor, encryptionDataConverter } from './security/codec-data-converter';
export {
  AesGcmPayloadCodec,
  UnknownEncryptionKeyError,
  PayloadDecryptionError,
  EncryptionKeysMissingError,
  ENCRYPTED_ENCODING,
  KEY_ID_METADATA,
} from './security/codec';
export { loadEncryptionKeys, EncryptionKeyError } from './security/keys';
export type { EncryptionKey, EncryptionKeySource } from './security/keys';
/** The codec server the Temporal Web UI decodes payloads through (`durable-fit codec-server`). */
export { startCodecServer } from './security/codec-server';
export type { CodecServerOptions, RunningCodecServer } from './security/codec-server';
/** Prometheus metrics: `createMeterRecorder(Runtime.instance().metricMeter)` into the plugin's `metrics` (README: Metrics). */
export { createMeterRecorder, HISTOGRAM_BUCKETS } from './metrics/meter-recorder';
export { installRuntimeWithMetrics } from './metrics/prometheus';
export type { MetricsRecorder } from './metrics/recorder';
/** Routing of a run's epochs to workers of one backend fingerprint (README: Routing). */
export { backendFingerprint, backendQueue, workerRoute, chooseRoute } from './training/routing';
/** The training engine for your own worker: trainer child processes, one per slot. */
export { createProcessEngine } from '../activities/process-engine';
export type { ProcessEngineOptions } from '../activities/process-engine';
export type { EpochEngine } from '../activities/epoch-engine';

/**
 * Checkpoints: the `.ckpt` format, the verified I/O port (one checkpoint at a time) and the run
 * folders (listings, logs, pins), retention, errors.
 */
export { encodeCheckpoint, decodeCheckpoint, readCheckpointHeader } from './checkpoint/format';
export { ObjectCheckpointIO } from './checkpoint/object-checkpoint-io';
export type { CheckpointIOOptions } from './checkpoint/object-checkpoint-io';
export type {
  CheckpointIO,
  CheckpointStat,
  ExpectedIntegrity,
  LoadedSource,
  SavedCheckpoint,
  SaveOptions,
} from './checkpoint/checkpoint-io';
export { ObjectRunFolder } from './checkpoint/run-folder';
export type { RunFolder } from './checkpoint/run-folder';
export type { CheckpointRecord } from './checkpoint/checkpoint-listing';
/** `tf.loadLayersModel('s3://…/epoch=…ckpt')` and `model.save('s3://…/model.ckpt')` through a store. */
export { registerS3IOHandlers } from './checkpoint/tfjs-io';
export { createRunFolder, createStorage, createStore, s3Connection } from './checkpoint/create-store';
export type { CheckpointStorage } from './checkpoint/create-store';
export { selectForDeletion, selectForKeeping } from './checkpoint/retention-policy';
export {
  CheckpointError,
  CheckpointNotFoundError,
  CheckpointIsPrefixError,
  NotACkptError,
  CheckpointCorruptError,
  CheckpointSignatureError,
  CheckpointUnsignedError,
  UnsupportedFormatVersionError,
  IncompatibleTopologyError,
  InvalidRunNameError,
  InvalidCheckpointUrlError,
  CheckpointExistsError,
  CheckpointKeyConflictError,
  RunFolderTakenError,
  CheckpointCursorMismatchError,
  InvalidCheckpointStateError,
} from './checkpoint/errors';
export type { CorruptionKind, TopologyDifference, WeightShape } from './checkpoint/errors';
/** A checkpoint over `DFIT_MAX_CHECKPOINT_BYTES`, refused before download. */
export { CheckpointTooLargeError } from './checkpoint/size-limit';

/** Error permanence: each error class declares `static readonly failureKind` (see the README). */
export { classifyError, FAILURE_KINDS } from './failure-kind';
export type { FailureKind, Classification } from './failure-kind';

/**
 * Tasks (docs/tasks.md): `registerTask(task)` in a module of your own. A task's descriptor (name,
 * hparams, metric names) validates specs without tfjs; `defineTask(descriptor, builder)` adds the
 * model and data, and `registerTaskDescriptor` registers the descriptor alone (for a client).
 */
export {
  registerTask,
  defineTask,
  describeTask,
  registerTaskDescriptor,
  getTask,
  getTaskDescriptor,
  listTasks,
  validateHparams,
  taskMetricNames,
  createSeedSequence,
  accuracy,
  softmaxCrossEntropy,
  oneHotRows,
  syntheticTask,
  mnistMlpTask,
  mnistCnnTask,
  digitsResnetTask,
  syntheticDescriptor,
  mnistMlpDescriptor,
  mnistCnnDescriptor,
  digitsResnetDescriptor,
} from './training/tasks';
export type {
  TaskDefinition,
  TaskDescriptor,
  TaskBuilder,
  TaskDataset,
  DatasetSplit,
  OptimizerConfig,
  BatchScalarFn,
} from './training/tasks';

/** The training engine: backends, sessions, exact state capture, the trainer and its processes. */
export { BACKEND_REQUESTS, isBackendRequest, listInstalledBackends, selectBackend } from './training/backend';
export type { BackendRequest } from './training/backend';
export { TrainingSession } from './training/session';
export type { RunConfig, StepResult } from './training/session';
export { RunControl, runSession } from './training/run-loop';
export type { BatchProgress, EpochEnd, RunLoopOptions, RunOutcome } from './training/run-loop';
export { captureState, finalizeState, restoreState } from './training/capture';
export type { RestoreOptions, SpecExtras } from './training/capture';
export type { RngState } from './training/rng';
export { Trainer } from './training/trainer';
export type { TrainerOptions } from './training/trainer';
export { TrainerProcess } from './training/trainer-process';
export type { JobHandlers, TrainerProcessOptions } from './training/trainer-process';
export type { TrainerJob } from './training/trainer-job';
export type { JobRequest } from './training/protocol';
/** `weightsSha256` of a state (docs/tasks.md): equal hashes, bit-identical weights. */
export { computeWeightsSha256 } from './training/weights-hash';
/** The engine's errors; each declares its failure kind. */
export {
  TrainingEngineError,
  BackendUnavailableError,
  BackendUnsupportedError,
  UnknownTaskError,
  InvalidHparamsError,
  TaskDefinitionError,
  IncompatibleStateError,
  InvalidRunConfigError,
  TrainerCrashedError,
  TrainerHungError,
  TrainerRemoteError,
  TrainerBusyError,
} from './training/errors';
export type { StateDifference } from './training/errors';

/** Shapes shared by the engine, the checkpoint format and the workflow. */
export type { TrainingState, CheckpointMeta, NamedTensor, TrainingCursor } from './state';
export type { TrainingResult, Progress, RunRecord } from './contract';
export type { CheckpointRef, EpochResult, HeartbeatDetails, RecoveryEvent } from './contract';
export { SEARCH_ATTRIBUTES, TRAIN_MODEL } from './contract';
export type { TrainingActivities } from './contract';

/** Sweeps: grid, random, ASHA and PBT searches whose trials are training runs (README "Sweeps"). */
export { startSweep, validateSweepInput, sweepProgress, defaultSweepId } from './sweep/client';
export type { SweepHandle, StartSweepOptions } from './sweep/client';
export { sweepProgressQuery, SWEEP_ID, TRIAL_RUNG, SWEEP_METRIC } from './contract/sweep';
export type {
  SweepInput,
  SweepResult,
  SweepProgress,
  SweepSpace,
  SweepSearch,
  TrialRecord,
} from './contract/sweep';
