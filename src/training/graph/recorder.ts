/**
 * Records what one eager training step asks of tfjs-node's binding: every TensorFlow op it executes
 * (name, attributes, input and output handle ids) and every tensor it creates from JavaScript
 * values. The step still runs eagerly while it is recorded; the recording is the graph's blueprint.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { OpAttr } from './addon';

type HostValues = Float32Array | Int32Array | Uint8Array;

export interface CreatedNode {
  kind: 'create';
  id: number;
  shape: number[];
  /** TF_DataType. */
  dtype: number;
  /** The array the step handed over (kept by reference: a batch is told apart by identity). */
  values: HostValues;
}

export interface OpNode {
  kind: 'op';
  type: string;
  attrs: OpAttr[];
  inputs: number[];
  outputs: number[];
}

export type RecordedNode = CreatedNode | OpNode;

interface OutputInfo {
  id: number;
  shape: number[];
  dtype: number;
}

/** The parts of tfjs-node's binding a step uses. */
export interface NodeBinding {
  createTensor(shape: number[], dtype: number, values: HostValues): number;
  executeOp(type: string, attrs: OpAttr[], inputs: number[], outputs: number): OutputInfo[];
  tensorDataSync(id: number): HostValues;
  deleteTensor(id: number): void;
}

/** tfjs-node's backend object, as far as the tracer reads it. */
export interface NodeBackend {
  binding: NodeBinding;
  tensorMap: { get(dataId: object): { id: number; values: unknown; shape: number[]; dtype: number } };
  getInputTensorIds(tensors: tf.Tensor[]): number[];
  readSync(dataId: object): unknown;
}

export interface Recording<T> {
  result: T;
  nodes: RecordedNode[];
  /** Ops whose output the step read back into JavaScript while it ran (not traceable). */
  dataReads: string[];
}

/** The active backend as tfjs-node's, or an error when it is another. */
export function nodeBackend(): NodeBackend {
  const backend = tf.backend() as unknown as Partial<NodeBackend>;
  if (!backend.binding || !backend.tensorMap || !backend.getInputTensorIds)
    throw new Error(`graph mode needs the native tensorflow backend, not '${tf.getBackend()}'`);
  return backend as NodeBackend;
}

/** The binding handle id of a tensor, moving its data into TensorFlow first if it is still in JS. */
export function handleId(backend: NodeBackend, tensor: tf.Tensor): number {
  return backend.getInputTensorIds([tensor])[0] as number;
}

/** Runs `body` with the binding wrapped so every op and created tensor is recorded. */
export function record<T>(backend: NodeBackend, body: () => T): Recording<T> {
  const real = backend.binding;
  const nodes: RecordedNode[] = [];
  const dataReads: string[] = [];
  const producedBy = new Map<number, string>();
  const overrides: Partial<NodeBinding> = {
    createTensor(shape, dtype, values) {
      const id = real.createTensor(shape, dtype, values);
      nodes.push({ kind: 'create', id, shape: [...shape], dtype, values });
      return id;
    },
    executeOp(type, attrs, inputs, count) {
      const outputs = real.executeOp(type, attrs, inputs, count);
      nodes.push({ kind: 'op', type, attrs, inputs: [...inputs], outputs: outputs.map((o) => o.id) });
      outputs.forEach((o) => producedBy.set(o.id, type));
      return outputs;
    },
    tensorDataSync(id) {
      const op = producedBy.get(id);
      if (op) dataReads.push(`op ${op}`);
      return real.tensorDataSync(id);
    },
  };
  // The addon's own properties are read-only, so the overrides are defined, not assigned.
  const wrapped = Object.create(
    real,
    Object.fromEntries(Object.entries(overrides).map(([name, value]) => [name, { value }])),
  ) as NodeBinding;
  // Reads of values still held in JS never reach the binding: watch the backend's reads as well.
  // Any read inside the step is refused, whatever it reads: a graph would freeze what it saw.
  const readSync = backend.readSync;
  backend.readSync = (dataId: object) => {
    const { id } = backend.tensorMap.get(dataId);
    const op = producedBy.get(id);
    dataReads.push(op ? `op ${op}` : 'a tensor made in JavaScript (the batch or a value)');
    return readSync.call(backend, dataId);
  };
  backend.binding = wrapped;
  try {
    return { result: body(), nodes, dataReads };
  } finally {
    backend.binding = real;
    delete (backend as Partial<NodeBackend>).readSync;
    if (backend.readSync !== readSync) backend.readSync = readSync;
  }
}

/** Shape, dtype and values of a handle made before the step (a constant the step reads). */
export function readHandle(
  backend: NodeBackend,
  id: number,
): { shape: number[]; dtype: number; values: HostValues } {
  const [copy] = backend.binding.executeOp('Identity', [], [id], 1);
  if (!copy) throw new Error(`cannot read tensor handle ${id}`);
  try {
    return { shape: copy.shape, dtype: copy.dtype, values: backend.binding.tensorDataSync(copy.id).slice() };
  } finally {
    backend.binding.deleteTensor(copy.id);
  }
}
