/** Pieces the built-in classification tasks' builders share: loss, accuracy, one-hot labels (hparams: hparams.ts). */
import * as tf from '@tensorflow/tfjs-core';
import type { BatchScalarFn } from './types';

/** Softmax cross-entropy on logits against one-hot labels. */
export const softmaxCrossEntropy: BatchScalarFn = (labels, logits) =>
  tf.losses.softmaxCrossEntropy(labels, logits) as tf.Scalar;

/** Fraction of samples whose arg-max output matches the one-hot label. */
export const accuracy: BatchScalarFn = (labels, outputs) =>
  tf.tidy(() => tf.mean(tf.cast(tf.equal(tf.argMax(labels, -1), tf.argMax(outputs, -1)), 'float32')));

/** One-hot rows for integer class labels. */
export function oneHotRows(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) out[i * classes + (labels[i] as number)] = 1;
  return out;
}
