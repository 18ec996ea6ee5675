/**
 * `tabular-mlp-stream`: an MLP over any dataset of a float32 vector column `features` and an int32
 * column `label` (docs/datasets.md), e.g. `data import rows.csv --label-column label` after packing
 * the features into one JSON array column, or the generated dataset of bench/data-scale.ts. It is
 * small on purpose: a run of it is bound by its input pipeline, not by its steps.
 *
 * Its own validation split is in memory: `valSamples` rows of the linear teacher of `dataSeed`
 * (`teacherRows`), the same teacher bench/data-scale.ts labels its generated rows with; on other
 * data those metrics say nothing, so name a validation dataset (`--validation-dataset`) there.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import type { z } from 'zod';
import { createPrng } from '../rng';
import { accuracy, oneHotRows, softmaxCrossEntropy } from './common';
import { toOptimizerConfig } from './hparams';
import { defineTask } from './registry';
import { createSeedSequence } from './seeds';
import { tabularMlpStreamDescriptor } from './tabular-descriptor';
import type { TaskData } from './types';

type Hparams = z.output<typeof tabularMlpStreamDescriptor.hparams>;

/** Features of a row the teacher reads (the first ones): labelling costs the same at any width. */
export const TEACHER_FEATURES = 16;

/** The linear teacher of `dataSeed`: `classes` weights for each of the first `TEACHER_FEATURES` features. */
export function teacherWeights(dataSeed: number, features: number, classes: number): Float32Array {
  const prng = createPrng(`dfit:tabular:${dataSeed}:teacher`);
  return Float32Array.from({ length: Math.min(features, TEACHER_FEATURES) * classes }, () => prng() * 2 - 1);
}

/** The teacher's label of one row: the class with the highest score over its first features. */
export function teacherLabel(row: Float32Array, teacher: Float32Array, classes: number): number {
  const used = teacher.length / classes;
  let best = 0;
  let bestScore = -Infinity;
  for (let c = 0; c < classes; c++) {
    let score = 0;
    for (let f = 0; f < used; f++) score += (row[f] as number) * (teacher[f * classes + c] as number);
    if (score > bestScore) [best, bestScore] = [c, score];
  }
  return best;
}

/**
 * `rows` rows of uniform features in [-1, 1) drawn from the stream `stream` of `dataSeed`, labelled
 * by the teacher: what the validation split holds, and what bench/data-scale.ts writes per shard.
 */
export function teacherRows(
  h: Pick<Hparams, 'features' | 'classes' | 'dataSeed'>,
  rows: number,
  stream: string,
): { features: Float32Array; labels: Int32Array } {
  const prng = createPrng(`dfit:tabular:${h.dataSeed}:${stream}`);
  const teacher = teacherWeights(h.dataSeed, h.features, h.classes);
  const features = new Float32Array(rows * h.features);
  for (let i = 0; i < features.length; i++) features[i] = prng() * 2 - 1;
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++)
    labels[r] = teacherLabel(features.subarray(r * h.features, (r + 1) * h.features), teacher, h.classes);
  return { features, labels };
}

/** A row → its sample; `x` is the model's input (hparam `features` wide), `y` one-hot over `classes`. */
const streamData: TaskData<Hparams> = {
  dataset: (h) => h.dataset,
  columns: ['features', 'label'],
  transform(row, x, y) {
    const features = row.features as Float32Array;
    const label = row.label?.[0] as number;
    if (features.length !== x.length)
      throw new Error(`a dataset row has ${features.length} features, the hparam features is ${x.length}`);
    if (!(label >= 0 && label < y.length))
      throw new Error(`dataset label ${label} is outside 0 … ${y.length - 1} (hparam classes)`);
    x.set(features);
    y[label] = 1;
  },
};

export const tabularMlpStreamTask = defineTask(tabularMlpStreamDescriptor, {
  buildModel(h, seed) {
    const next = createSeedSequence(seed);
    return tfl.sequential({
      name: 'tabular_mlp',
      layers: [
        tfl.layers.dense({
          name: 'hidden',
          units: h.hidden,
          activation: 'relu',
          inputShape: [h.features],
          kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
        }),
        tfl.layers.dense({
          name: 'logits',
          units: h.classes,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
        }),
      ],
    });
  },
  loadDataset(h) {
    const { features, labels } = teacherRows(h, h.valSamples, 'validation');
    const empty = { x: new Float32Array(0), y: new Float32Array(0), size: 0 };
    const validation = { x: features, y: oneHotRows(labels, h.classes), size: h.valSamples };
    return { inputShape: [h.features], labelShape: [h.classes], train: empty, validation };
  },
  datasetKey: (h) => `tabular-val:${h.features}:${h.classes}:${h.valSamples}:${h.dataSeed}`,
  optimizer: toOptimizerConfig,
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
  data: streamData,
});
