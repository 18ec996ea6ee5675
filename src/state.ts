/**
 * The in-memory shape of a training state: what the engine captures and restores, and what a `.ckpt`
 * file stores. The checkpoint format (src/checkpoint) and the training engine (src/training) both
 * depend on this file and on nothing of each other.
 */

/** Tensor element types, named as in the safetensors format. */
export type TensorDType =
  'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'I8' | 'BOOL' | 'F16' | 'BF16' | 'I16' | 'U16' | 'U32' | 'U64';

/** The tfjs dtypes a state can hold, by their safetensors name (the one table for both directions). */
export const TFJS_DTYPES = { F32: 'float32', I32: 'int32', BOOL: 'bool' } as const;
export type TfjsDType = (typeof TFJS_DTYPES)[keyof typeof TFJS_DTYPES];

/** The safetensors name of a tfjs dtype, or undefined when a state cannot hold it. */
export function safetensorsDType(dtype: string): TensorDType | undefined {
  return (Object.keys(TFJS_DTYPES) as (keyof typeof TFJS_DTYPES)[]).find((k) => TFJS_DTYPES[k] === dtype);
}

/** The tfjs dtype of a safetensors one, or undefined when tfjs has no such dtype. */
export function tfjsDType(dtype: TensorDType): TfjsDType | undefined {
  return dtype in TFJS_DTYPES ? TFJS_DTYPES[dtype as keyof typeof TFJS_DTYPES] : undefined;
}

/** Tensors of the model's weights are named `model/<weight name>`; the rest is optimizer and RNG state. */
export const MODEL_PREFIX = 'model/';

/** One tensor: bytes are little-endian, row-major, exactly `product(shape) * itemsize` long. */
export interface NamedTensor {
  /** `model/<layer weight name>` or `optimizer/<layer weight name>/<slot>`, e.g. `model/dense_1/kernel`. */
  name: string;
  dtype: TensorDType;
  shape: number[];
  /** Raw little-endian element bytes (a view: do not assume it owns a whole ArrayBuffer). */
  data: Uint8Array;
}

/** Where training stands: the next batch to train is `batch` of `epoch` (both 0-based). */
export interface TrainingCursor {
  epoch: number;
  batch: number;
  /** Batches trained in total since the run began. */
  step: number;
  /** Batches per epoch for this dataset and batch size. */
  batchesPerEpoch: number;
}

/** Metrics of one finished epoch (training loss and any task metrics, e.g. `valAccuracy`). */
export interface EpochMetrics {
  epoch: number;
  [metric: string]: number;
}

export interface OptimizerState {
  /** tfjs optimizer class name, e.g. `Adam`, `SGD`, `Momentum`, `RMSProp`. */
  className: string;
  /** `optimizer.getConfig()` */
  config: Record<string, unknown>;
  /**
   * Exact scalar state (Adam: iterations, accBeta1, accBeta2). float32 values are stored as JS
   * numbers, which hold them exactly.
   */
  scalars: Record<string, number>;
}

export interface Fingerprints {
  /** SHA-256 of the canonical model topology JSON. */
  topology: string;
  /** SHA-256 of task name + canonical hparams. */
  task: string;
  /** durable-fit version that wrote the checkpoint. */
  code: string;
}

export interface BackendInfo {
  /** tfjs backend name: `tensorflow` (node/gpu), `tensorflow-graph` (traced steps), `wasm` or `cpu`. */
  name: string;
  /** Package versions, e.g. `{ "tfjs-core": "4.22.0" }`. */
  versions: Record<string, string>;
  /** True when this state was produced after a resume on a different backend than it started on. */
  crossBackendResume?: boolean;
  /**
   * How steps ran on a graph backend: `graph`, or `eager (graph unsupported: op …)` when the step
   * could not be traced (decided the same way on every worker, so not part of the fingerprint).
   */
  stepMode?: string;
}

/** A dataset version by name and manifest SHA-256 (`s3://<bucket>/datasets/<name>/<version>/`). */
export interface DatasetBinding {
  name: string;
  version: string;
}

/** Everything in a checkpoint besides the tensors. Each field is JSON-serialisable. */
export interface CheckpointMeta {
  /** Version of the `.ckpt` layout; readers refuse newer versions. */
  formatVersion: number;
  task: string;
  hparams: Record<string, unknown>;
  /** The training spec (never credentials). */
  spec: Record<string, unknown>;
  /** `model.toJSON(null, false)` as an object. */
  topology: unknown;
  optimizer: OptimizerState;
  cursor: TrainingCursor;
  /** Serialised PRNG state owned by the engine. */
  rng: unknown;
  /** Metrics of every finished epoch so far. */
  metrics: EpochMetrics[];
  /**
   * Running sums of the epoch in progress (absent at an epoch boundary), so a mid-epoch resume
   * reports the same epoch loss as an uninterrupted run. Plain JS numbers, exact through JSON.
   */
  epochProgress?: { lossSum: number; batches: number };
  /** Recent losses a divergence spike is measured against (runs with `divergence.spike` only). */
  lossWindow?: number[];
  /**
   * The dataset version a streamed run trains on (tasks with `data`, docs/datasets.md): a resume
   * against another version is refused. Absent for tasks whose data is in memory.
   */
  dataset?: DatasetBinding;
  /** The dataset version its validation rows came from, when they came from one (absent: in memory). */
  validationDataset?: DatasetBinding;
  fingerprints: Fingerprints;
  backend: BackendInfo;
  /** SHA-256 over all model weights in canonical order (see src/training weights hash). */
  weightsSha256: string;
  /** ISO time of capture. */
  createdAt: string;
}

/** A complete, host-memory training state: weights, optimizer slots and metadata. */
export interface TrainingState {
  tensors: NamedTensor[];
  meta: CheckpointMeta;
}
