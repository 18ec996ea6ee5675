/**
 * A single-process reference of data-parallel rounds on the `synthetic` task, written from the
 * README's definitions with plain tfjs and seedrandom: it imports nothing from src/ (except, on
 * `tensorflow-graph`, the graph step driver that takes each training step: that backend's arithmetic
 * is its traced graph), so an agreement of weights hashes checks the distributed implementation —
 * shard orders, rows, rounds, merges — against an independent one.
 *
 * Rounds: K models start from the same weights; shard s trains H steps (Adam, its own state kept
 * across rounds) on positions s, s+K, … (floor(N/K) of them) of each data epoch's seeded order; the
 * new global weights are the float32 mean of the K models, summed in shard order.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as tfl from '@tensorflow/tfjs-layers';
import seedrandom from 'seedrandom';
import type * as StepDriverModule from '../../src/training/step-driver';
import type * as GraphDriverModule from '../../src/training/graph/graph-driver';
import type * as AddonModule from '../../src/training/graph/addon';
import type * as GraphModule from '../../src/training/graph';

export interface ReferenceSpec {
  seed: number;
  epochs: number;
  batchSize: number;
  samples: number;
  shards: number;
  syncEverySteps: number;
  /** Synthetic defaults: features 6, classes 3, hidden 8, Adam with learning rate 0.01. */
  learningRate?: number;
  /**
   * tfjs backend: `cpu`, `wasm`, or `tensorflow` (native, with the trainer's pinned TF_* settings,
   * which the caller sets in the environment before the first call). @default 'cpu'
   */
  backend?: 'cpu' | 'wasm' | 'tensorflow' | 'tensorflow-graph';
  /** Outer Nesterov step on the mean delta (absent: the new global is the mean). */
  nesterov?: { lr: number; momentum: number };
}

const FEATURES = 6;
const CLASSES = 3;
const HIDDEN = 8;

/** The final global weights' hash (durable-fit's `weightsSha256` definition). */
export async function referenceWeightsSha256(spec: ReferenceSpec): Promise<string> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when asked for
  if (spec.backend?.startsWith('tensorflow')) require('@tensorflow/tfjs-node');
  if (spec.backend === 'wasm') {
    // In Node the .wasm binaries are read from the package's dist folder.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded only when asked for
    const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(prefix: string): void };
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + path.sep);
  }
  const tfBackend = spec.backend === 'tensorflow-graph' ? 'tensorflow' : (spec.backend ?? 'cpu');
  if (!(await tf.setBackend(tfBackend))) throw new Error(`no tfjs backend ${spec.backend}`);
  const { xs, ys, size } = syntheticTrain(spec.samples);
  const k = spec.shards;
  const m = Math.floor(size / k);
  const shardBatches = Math.max(1, Math.ceil(m / spec.batchSize));
  const rounds = Math.ceil((spec.epochs * shardBatches) / spec.syncEverySteps);
  const models = Array.from({ length: k }, () => buildModel(spec.seed));
  const optimizers = models.map(() => tf.train.adam(spec.learningRate ?? 0.01));
  const steppers = models.map((model, s) =>
    createStepper(model, optimizers[s] as tf.Optimizer, spec.backend === 'tensorflow-graph'),
  );
  let global = weightsOf(models[0] as tfl.LayersModel, steppers[0] as Stepper);
  const velocity = global.map((w) => new Float32Array(w.length));
  for (let round = 0; round < rounds; round++) {
    models.forEach((model, s) => {
      const stepper = steppers[s] as Stepper;
      setWeights(model, global);
      stepper.written();
      for (let i = 0; i < spec.syncEverySteps; i++) {
        const step = round * spec.syncEverySteps + i;
        const order = epochOrder(spec.seed, Math.floor(step / shardBatches), size);
        const batch = step % shardBatches;
        const rows: number[] = [];
        for (let j = batch * spec.batchSize; j < Math.min((batch + 1) * spec.batchSize, m); j++)
          rows.push(order[j * k + s] as number);
        stepper.step(gather(xs, rows, FEATURES), gather(ys, rows, CLASSES), rows.length);
      }
    });
    const averaged = mean(models.map((model, s) => weightsOf(model, steppers[s] as Stepper)));
    global = spec.nesterov ? nesterov(global, averaged, velocity, spec.nesterov) : averaged;
  }
  return weightsSha256(models[0] as tfl.LayersModel, global);
}

function syntheticTrain(samples: number) {
  const prng = seedrandom.alea('dfit:synthetic:7');
  const teacher = Float32Array.from({ length: FEATURES * CLASSES }, () => prng() * 2 - 1);
  const xs = Float32Array.from({ length: samples * FEATURES }, () => prng() * 2 - 1);
  const ys = new Float32Array(samples * CLASSES);
  for (let i = 0; i < samples; i++) {
    let best = 0;
    let bestScore = -Infinity;
    for (let c = 0; c < CLASSES; c++) {
      let score = 0;
      for (let f = 0; f < FEATURES; f++)
        score += (xs[i * FEATURES + f] as number) * (teacher[f * CLASSES + c] as number);
      if (score > bestScore) [best, bestScore] = [c, score];
    }
    ys[i * CLASSES + best] = 1;
  }
  return { xs, ys, size: samples };
}

function buildModel(seed: number): tfl.LayersModel {
  const prng = seedrandom.alea(`dfit:${seed}:init`);
  const next = () => ((prng.int32() >>> 0) % 2147483646) + 1;
  return tfl.sequential({
    name: 'synthetic',
    layers: [
      tfl.layers.dense({
        name: 'hidden',
        units: HIDDEN,
        activation: 'relu',
        inputShape: [FEATURES],
        kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
      }),
      tfl.layers.dense({
        name: 'logits',
        units: CLASSES,
        kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
      }),
    ],
  });
}

function epochOrder(seed: number, epoch: number, size: number): Uint32Array {
  const prng = seedrandom.alea(`dfit:${seed}:epoch:${epoch}`);
  const order = Uint32Array.from({ length: size }, (_, i) => i);
  for (let i = size - 1; i > 0; i--) {
    const j = Math.floor(prng() * (i + 1));
    [order[i], order[j]] = [order[j] as number, order[i] as number];
  }
  return order;
}

function gather(source: Float32Array, rows: number[], width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(source.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

interface Stepper {
  step(x: Float32Array, y: Float32Array, rows: number): void;
  /** Before reading the model's weights. */
  sync(): void;
  /** After writing them. */
  written(): void;
}

const loss = (ys: tf.Tensor, logits: tf.Tensor) => tf.losses.softmaxCrossEntropy(ys, logits) as tf.Scalar;

function createStepper(model: tfl.LayersModel, optimizer: tf.Optimizer, graph: boolean): Stepper {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  if (graph) return graphStepper(model, optimizer, vars);
  return {
    step: (x, y, rows) =>
      tf.tidy(() => {
        const xs = tf.tensor(x, [rows, FEATURES], 'float32');
        const ys = tf.tensor(y, [rows, CLASSES], 'float32');
        optimizer.minimize(() => loss(ys, model.apply(xs, { training: true }) as tf.Tensor), false, vars);
      }),
    sync: () => undefined,
    written: () => undefined,
  };
}

/** The graph backend's own step (its arithmetic is the traced graph), loaded only for it. */
function graphStepper(model: tfl.LayersModel, optimizer: tf.Optimizer, trainable: tf.Variable[]): Stepper {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { EagerDriver } = require('../../src/training/step-driver') as typeof StepDriverModule;
  const { GraphDriver } = require('../../src/training/graph/graph-driver') as typeof GraphDriverModule;
  const { loadGraphAddon } = require('../../src/training/graph/addon') as typeof AddonModule;
  const { sessionConfigProto } = require('../../src/training/graph') as typeof GraphModule;
  /* eslint-enable @typescript-eslint/no-require-imports */
  const eager = new EagerDriver({
    model,
    optimizer,
    loss,
    trainable,
    randomLayers: [],
    inputShape: [FEATURES],
    labelShape: [CLASSES],
  });
  const packageDir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
  const driver = new GraphDriver(eager, {
    addon: loadGraphAddon(packageDir),
    sessionConfig: sessionConfigProto(process.env, false),
    warn: (message) => {
      throw new Error(message);
    },
  });
  return {
    step: (x, y, rows) => void driver.train({ x, y, rows, stepSeed: 0 }),
    sync: () => driver.syncToHost(),
    written: () => driver.hostWritten(),
  };
}

function weightsOf(model: tfl.LayersModel, stepper: Stepper): Float32Array[] {
  stepper.sync();
  return model.weights.map((w) => Float32Array.from(w.read().dataSync()));
}

function setWeights(model: tfl.LayersModel, weights: Float32Array[]): void {
  model.weights.forEach((w, i) => w.write(tf.tensor(weights[i] as Float32Array, w.shape as number[])));
}

function mean(shards: Float32Array[][]): Float32Array[] {
  return (shards[0] as Float32Array[]).map((_, i) => {
    const sum = Float32Array.from(shards[0]?.[i] as Float32Array);
    for (const shard of shards.slice(1))
      for (let j = 0; j < sum.length; j++)
        sum[j] = Math.fround((sum[j] as number) + ((shard[i] as Float32Array)[j] as number));
    for (let j = 0; j < sum.length; j++) sum[j] = Math.fround((sum[j] as number) / shards.length);
    return sum;
  });
}

/** d = g − mean; v ← μv + d; g ← g − lr(d + μv), every operation rounded to float32. */
function nesterov(
  global: Float32Array[],
  averaged: Float32Array[],
  velocity: Float32Array[],
  outer: { lr: number; momentum: number },
): Float32Array[] {
  const f = Math.fround;
  const [mu, lr] = [f(outer.momentum), f(outer.lr)];
  return global.map((g, i) => {
    const m = averaged[i] as Float32Array;
    const v = velocity[i] as Float32Array;
    return g.map((gj, j) => {
      const d = f(gj - (m[j] as number));
      v[j] = f(f(mu * (v[j] as number)) + d);
      return f(gj - f(lr * f(d + f(mu * (v[j] as number)))));
    });
  });
}

function weightsSha256(model: tfl.LayersModel, weights: Float32Array[]): string {
  const named = model.weights.map((w, i) => ({
    name: `model/${w.originalName}`,
    shape: w.shape,
    data: weights[i] as Float32Array,
  }));
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const hash = createHash('sha256');
  for (const t of named) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    hash.update(`${t.name}\nF32\n${t.shape.join(',')}\n${bytes.byteLength}\n`, 'utf8');
    hash.update(bytes);
  }
  return hash.digest('hex');
}
