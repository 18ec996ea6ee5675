/**
 * `digits-resnet`: a small ResNet-style CNN on the MNIST digits with augmentation, a real workload
 * for native TensorFlow (a few ms a step there; far too slow for cpu, impossible on wasm) where
 * checkpoint overhead matters. Augmented copies (random shifts) come from our own seeded RNG when
 * the dataset loads, so the same hparams always give the same bytes.
 */
import * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import type { z } from 'zod';
import { accuracy, softmaxCrossEntropy } from './common';
import { digitsResnetDescriptor } from './descriptors';
import { toOptimizerConfig } from './hparams';
import { loadMnist } from './mnist-data';
import { defineTask } from './registry';
import { createSeedSequence } from './seeds';
import type { DatasetSplit, TaskDataset } from './types';

type Hparams = z.output<typeof digitsResnetDescriptor.hparams>;

const SIDE = 28;

export const digitsResnetTask = defineTask(digitsResnetDescriptor, {
  buildModel(h, seed) {
    const next = createSeedSequence(seed);
    const conv = (name: string, filters: number, strides = 1, activation: 'relu' | 'linear' = 'relu') =>
      tfl.layers.conv2d({
        name,
        filters,
        kernelSize: 3,
        strides,
        padding: 'same',
        activation,
        kernelInitializer: tfl.initializers.heNormal({ seed: next() }),
      });
    const block = (x: tfl.SymbolicTensor, name: string, filters: number) => {
      const y = conv(`${name}_b`, filters, 1, 'linear').apply(conv(`${name}_a`, filters).apply(x));
      const sum = tfl.layers.add({ name: `${name}_add` }).apply([x, y as tfl.SymbolicTensor]);
      return tfl.layers
        .activation({ name: `${name}_relu`, activation: 'relu' })
        .apply(sum) as tfl.SymbolicTensor;
    };
    const input = tfl.input({ name: 'image', shape: [SIDE, SIDE, 1] });
    let x = conv('stem', h.width).apply(input) as tfl.SymbolicTensor;
    x = block(x, 'res1', h.width);
    x = block(x, 'res2', h.width);
    x = conv('down', h.width * 2, 2).apply(x) as tfl.SymbolicTensor;
    x = block(x, 'res3', h.width * 2);
    x = tfl.layers.globalAveragePooling2d({ name: 'gap' }).apply(x) as tfl.SymbolicTensor;
    const logits = tfl.layers
      .dense({
        name: 'logits',
        units: 10,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
      })
      .apply(x) as tfl.SymbolicTensor;
    return tfl.model({ name: 'digits_resnet', inputs: input, outputs: logits });
  },
  loadDataset: (h) => augment(loadMnist(h.trainSize, h.valSize, [SIDE, SIDE, 1]), h),
  datasetKey: (h) => `${h.trainSize}:${h.valSize}:${h.augmentCopies}:${h.maxShift}:${h.augmentSeed}`,
  optimizer: toOptimizerConfig,
  loss: softmaxCrossEntropy,
  metrics: { accuracy },
});

/** Appends `augmentCopies` shifted copies of every training digit (validation stays as is). */
function augment(data: TaskDataset, h: Hparams): TaskDataset {
  if (h.augmentCopies === 0) return data;
  const { train } = data;
  const pixels = SIDE * SIDE;
  const rng = seedrandom.alea(`dfit:digits-resnet:augment:${h.augmentSeed}`);
  const shift = () => Math.floor(rng() * (2 * h.maxShift + 1)) - h.maxShift;
  const size = train.size * (1 + h.augmentCopies);
  const x = new Float32Array(size * pixels);
  const y = new Float32Array(size * 10);
  x.set(train.x);
  y.set(train.y);
  for (let copy = 1; copy <= h.augmentCopies; copy++) {
    for (let i = 0; i < train.size; i++) {
      const row = copy * train.size + i;
      shiftImage(train, i, shift(), shift(), x.subarray(row * pixels, (row + 1) * pixels));
      y.set(train.y.subarray(i * 10, (i + 1) * 10), row * 10);
    }
  }
  return { ...data, train: { x, y, size } };
}

/** Writes image `i` of `split` moved by (dx, dy) into `out`, zero-filling what moves in. */
function shiftImage(split: DatasetSplit, i: number, dx: number, dy: number, out: Float32Array): void {
  const base = i * SIDE * SIDE;
  for (let r = 0; r < SIDE; r++) {
    const sr = r - dy;
    if (sr < 0 || sr >= SIDE) continue;
    for (let c = 0; c < SIDE; c++) {
      const sc = c - dx;
      if (sc >= 0 && sc < SIDE) out[r * SIDE + c] = split.x[base + sr * SIDE + sc] as number;
    }
  }
}
