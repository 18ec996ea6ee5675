/** Conversions between tfjs tensors and the host-memory `NamedTensor` of a training state. */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor } from '../state';
import { safetensorsDType, tfjsDType } from '../state';

const ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array } as const;

/**
 * Copies a tensor to host memory. This is the only part of a snapshot that blocks training; the
 * copy matters because backends may hand out their live buffer from dataSync().
 */
export function toNamedTensor(name: string, tensor: tf.Tensor): NamedTensor {
  const dtype = safetensorsDType(tensor.dtype);
  if (!dtype) throw new Error(`cannot checkpoint ${name}: dtype ${tensor.dtype} is not supported`);
  const values = (tensor.dataSync() as Float32Array | Int32Array | Uint8Array).slice();
  return { name, dtype, shape: [...tensor.shape], data: new Uint8Array(values.buffer) };
}

/** A new tensor with the bytes of `t` (copied, so `t.data` may be an unaligned view). */
export function fromNamedTensor(t: NamedTensor): tf.Tensor {
  const dtype = tfjsDType(t.dtype);
  if (!dtype) throw new Error(`cannot restore ${t.name}: dtype ${t.dtype} is not supported`);
  // new Uint8Array(view) copies; Buffer#slice would not (it returns a view of the pool).
  const buffer = new Uint8Array(t.data).buffer;
  return tf.tensor(new ARRAYS[dtype](buffer), t.shape, dtype);
}

/** Makes every tensor own a compact buffer, e.g. before posting a state to another process. */
export function compactTensors(tensors: readonly NamedTensor[]): NamedTensor[] {
  return tensors.map((t) =>
    t.data.byteOffset === 0 && t.data.byteLength === t.data.buffer.byteLength
      ? t
      : { ...t, data: new Uint8Array(t.data) },
  );
}
