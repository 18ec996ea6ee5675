/** `mnist-mlp` and `mnist-cnn`: the built-in MNIST tasks (small, CPU-friendly models). */
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { accuracy, intInRange, optimizerHparams, softmaxCrossEntropy, toOptimizerConfig } from './common';
import { MNIST_AVAILABLE, loadMnist } from './mnist-data';
import { createSeedSequence } from './seeds';
import type { TaskDefinition } from './types';

const dataHparams = {
  trainSize: intInRange(1, MNIST_AVAILABLE).default(8000),
  valSize: intInRange(1, MNIST_AVAILABLE).default(1000),
  /** Dropout rate before the output layer (0 leaves the layer out). */
  dropout: z.number().min(0).max(0.95).default(0.2),
  ...optimizerHparams,
};

const mlpHparams = z.object({ ...dataHparams, hidden: intInRange(1, 65_536).default(128) });

export const mnistMlpTask: TaskDefinition<typeof mlpHparams> = {
  name: 'mnist-mlp',
  description: 'MNIST digits, 784 → hidden (relu) → dropout → 10',
  hparams: mlpHparams,
  buildModel(h, seed) {
    const next = createSeedSequence(seed);
    const layers: tfl.layers.Layer[] = [
      tfl.layers.dense({
        name: 'hidden',
        units: h.hidden,
        activation: 'relu',
        inputShape: [784],
        kernelInitializer: tfl.initializers.heNormal({ seed: next() }),
      }),
    ];
    if (h.dropout > 0) layers.push(tfl.layers.dropout({ name: 'dropout', rate: h.dropout }));
    layers.push(denseOut(next()));
    return tfl.sequential({ name: 'mnist_mlp', layers });
  },
  loadDataset: (h) => loadMnist(h.trainSize, h.valSize, [784]),
  datasetKey: (h) => `${h.trainSize}:${h.valSize}`,
  optimizer: toOptimizerConfig,
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
};

const cnnHparams = z.object({ ...dataHparams, filters: intInRange(1, 256).default(8) });

export const mnistCnnTask: TaskDefinition<typeof cnnHparams> = {
  name: 'mnist-cnn',
  description: 'MNIST digits, two conv/max-pool blocks → dropout → 10',
  hparams: cnnHparams,
  buildModel(h, seed) {
    const next = createSeedSequence(seed);
    const conv = (name: string, filters: number, inputShape?: number[]) =>
      tfl.layers.conv2d({
        name,
        filters,
        kernelSize: 3,
        activation: 'relu',
        ...(inputShape ? { inputShape } : {}),
        kernelInitializer: tfl.initializers.heNormal({ seed: next() }),
      });
    const layers: tfl.layers.Layer[] = [
      conv('conv1', h.filters, [28, 28, 1]),
      tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      conv('conv2', h.filters * 2),
      tfl.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tfl.layers.flatten({ name: 'flatten' }),
    ];
    if (h.dropout > 0) layers.push(tfl.layers.dropout({ name: 'dropout', rate: h.dropout }));
    layers.push(denseOut(next()));
    return tfl.sequential({ name: 'mnist_cnn', layers });
  },
  loadDataset: (h) => loadMnist(h.trainSize, h.valSize, [28, 28, 1]),
  // tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter kernel: conv layers cannot train there.
  unsupportedBackends: { wasm: "tfjs-backend-wasm has no 'Conv2DBackpropFilter' kernel (conv gradients)" },
  datasetKey: (h) => `${h.trainSize}:${h.valSize}`,
  optimizer: toOptimizerConfig,
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
};

function denseOut(seed: number): tfl.layers.Layer {
  return tfl.layers.dense({
    name: 'logits',
    units: 10,
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
  });
}
