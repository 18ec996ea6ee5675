/** `mnist-mlp` and `mnist-cnn`: the built-in MNIST tasks (small, CPU-friendly models). */
import * as tfl from '@tensorflow/tfjs-layers';
import { accuracy, softmaxCrossEntropy } from './common';
import { mnistCnnDescriptor, mnistMlpDescriptor } from './descriptors';
import { toOptimizerConfig } from './hparams';
import { loadMnist } from './mnist-data';
import { defineTask } from './registry';
import { createSeedSequence } from './seeds';

export const mnistMlpTask = defineTask(mnistMlpDescriptor, {
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
});

export const mnistCnnTask = defineTask(mnistCnnDescriptor, {
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
  datasetKey: (h) => `${h.trainSize}:${h.valSize}`,
  optimizer: toOptimizerConfig,
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
});

function denseOut(seed: number): tfl.layers.Layer {
  return tfl.layers.dense({
    name: 'logits',
    units: 10,
    kernelInitializer: tfl.initializers.glorotUniform({ seed }),
  });
}
