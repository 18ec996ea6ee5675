/**
 * `synthetic`: a tiny, fast classification task for tests and demos (the BoringModel of
 * durable-fit). Points in [-1, 1]^features labelled by a random linear teacher, an MLP to learn it.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { z } from 'zod';
import { createPrng } from '../rng';
import { accuracy, oneHotRows, softmaxCrossEntropy } from './common';
import { syntheticDescriptor } from './descriptors';
import { toOptimizerConfig } from './hparams';
import { defineTask } from './registry';
import { createSeedSequence } from './seeds';
import type { DatasetSplit, TaskDataset } from './types';

type Hparams = z.output<typeof syntheticDescriptor.hparams>;

/** The descriptor (descriptors.ts) with its model and data. */
export const syntheticTask = defineTask(syntheticDescriptor, {
  buildModel(h, seed) {
    const next = createSeedSequence(seed);
    const layers: tfl.layers.Layer[] = [
      tfl.layers.dense({
        name: 'hidden',
        units: h.hidden,
        activation: 'relu',
        inputShape: [h.features],
        kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
      }),
    ];
    if (h.dropout > 0) layers.push(tfl.layers.dropout({ name: 'dropout', rate: h.dropout }));
    layers.push(
      tfl.layers.dense({
        name: 'logits',
        units: h.classes,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
      }),
    );
    return tfl.sequential({ name: 'synthetic', layers });
  },
  loadDataset: makeSyntheticData,
  optimizer: toOptimizerConfig,
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
});

function makeSyntheticData(h: Hparams): TaskDataset {
  const prng = createPrng(`dfit:synthetic:${h.dataSeed}`);
  const teacher = Float32Array.from({ length: h.features * h.classes }, () => prng() * 2 - 1);
  const split = (size: number): DatasetSplit => {
    const x = Float32Array.from({ length: size * h.features }, () => prng() * 2 - 1);
    const labels = Array.from({ length: size }, (_, i) => teacherLabel(x, i, teacher, h));
    return { x, y: oneHotRows(labels, h.classes), size };
  };
  const train = split(h.samples);
  return { inputShape: [h.features], labelShape: [h.classes], train, validation: split(h.valSamples) };
}

function teacherLabel(x: Float32Array, row: number, teacher: Float32Array, h: Hparams): number {
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < h.classes; c++) {
    let score = 0;
    for (let f = 0; f < h.features; f++) {
      score += (x[row * h.features + f] as number) * (teacher[f * h.classes + c] as number);
    }
    if (score > bestScore) [best, bestScore] = [c, score];
  }
  return best;
}
