/**
 * Kernels swapped in while a step is traced, where tfjs-node's eager kernel is costly as a graph
 * (measured with TensorFlow's step stats on mnist-cnn, docs/graph-mode.md). Graph mode has its own
 * fingerprint, so the eager backend is unchanged.
 * - `Step` (the ReLU family's gradient mask) is IsNan, Greater, a tensor of ones made in JavaScript
 *   (a constant as large as the activation, frozen into the graph) and two Selects; here it is
 *   Greater and Cast, which graph-build.ts then folds with its Mul into one ReluGrad. A NaN input
 *   gives 0 where eager gives NaN (the loss is NaN already by then).
 * - `Sum` over every axis but the last (a bias's gradient) is TensorFlow's BiasAddGrad, not a
 *   generic reduction.
 */
import * as tf from '@tensorflow/tfjs-core';

const BACKEND = 'tensorflow';

const graphStep: tf.KernelConfig = {
  kernelName: tf.Step,
  backendName: BACKEND,
  kernelFunc: ({ inputs, attrs }) => {
    const x = (inputs as { x: tf.Tensor }).x;
    const alpha = Number((attrs as { alpha?: number }).alpha ?? 0);
    return tf.tidy(() => {
      const mask = tf.cast(tf.greater(x, tf.scalar(0, x.dtype)), x.dtype);
      return alpha === 0 ? mask : tf.add(tf.mul(mask, 1 - alpha), alpha);
    });
  },
};

type Executor = { executeSingleOutput(op: string, attrs: unknown[], inputs: tf.Tensor[]): tf.TensorInfo };
const TF_ATTR_STRING = 0;
const TF_ATTR_TYPE = 4;
const TF_FLOAT = 1;

function graphSum(original: tf.KernelConfig): tf.KernelConfig {
  return {
    ...original,
    kernelFunc: (args) => {
      const x = (args.inputs as { x: tf.Tensor }).x;
      const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
      const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
      const biasAxes =
        x.shape.length >= 2 && axes.length === x.shape.length - 1 && axes.every((a, i) => a === i);
      if (!biasAxes || keepDims || x.dtype !== 'float32') return original.kernelFunc(args);
      return (args.backend as unknown as Executor).executeSingleOutput(
        'BiasAddGrad',
        [
          { name: 'T', type: TF_ATTR_TYPE, value: TF_FLOAT },
          { name: 'data_format', type: TF_ATTR_STRING, value: 'NHWC' },
        ],
        [x],
      );
    },
  };
}

/** Runs `body` with the graph-friendly kernels registered, and puts tfjs-node's back after. */
export function withTraceKernels<T>(body: () => T): T {
  const sum = tf.getKernel(tf.Sum, BACKEND);
  const kernels = [graphStep, ...(sum ? [graphSum(sum)] : [])];
  const replaced = kernels.map((kernel) => {
    const original = tf.getKernel(kernel.kernelName, BACKEND);
    if (original) tf.unregisterKernel(kernel.kernelName, BACKEND);
    tf.registerKernel(kernel);
    return { kernel, original };
  });
  try {
    return body();
  } finally {
    for (const { kernel, original } of replaced) {
      tf.unregisterKernel(kernel.kernelName, BACKEND);
      if (original) tf.registerKernel(original);
    }
  }
}
