/**
 * Optimizers and their exact internal state. tfjs keeps slot variables in arrays indexed like the
 * variable list passed to `minimize` and names them by process-local variable ids, so we map slot
 * i to the model's i-th trainable weight name: `optimizer/<layer weight name>/<slot>`. Scalar state
 * (iterations; Adam's accBeta1/accBeta2) is read and written directly: Adam's setWeights()
 * recomputes accBeta with `pow`, which is not bit-exact.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { NamedTensor, OptimizerState } from '../state';
import type { OptimizerConfig } from './tasks/types';
import { fromNamedTensor, toNamedTensor } from './tensor-bytes';

export const OPTIMIZER_PREFIX = 'optimizer/';

interface SlotEntry {
  originalName: string;
  variable: tf.Variable;
}
/** The tfjs optimizer internals we read and write (fields of the 4.x optimizer classes). */
type OptimizerInternals = Record<string, SlotEntry[] | tf.Variable | number | undefined> & {
  iterations_?: number;
};

/** Slot arrays (field, slot suffix) and scalar variables per tfjs optimizer class. */
const LAYOUT: Record<string, { slots: [string, string][]; scalars: string[] }> = {
  SGD: { slots: [], scalars: [] },
  Momentum: { slots: [['accumulations', 'momentum']], scalars: [] },
  Adam: {
    slots: [
      ['accumulatedFirstMoment', 'm'],
      ['accumulatedSecondMoment', 'v'],
    ],
    scalars: ['accBeta1', 'accBeta2'],
  },
  RMSProp: {
    slots: [
      ['accumulatedMeanSquares', 'rms'],
      ['accumulatedMoments', 'momentum'],
      ['accumulatedMeanGrads', 'mg'],
    ],
    scalars: [],
  },
};

/** A fresh tfjs optimizer for the task's config. */
export function createOptimizer(config: OptimizerConfig): tf.Optimizer {
  switch (config.kind) {
    case 'sgd':
      return tf.train.sgd(config.learningRate);
    case 'momentum':
      return tf.train.momentum(config.learningRate, config.momentum, config.useNesterov);
    case 'adam':
      return tf.train.adam(config.learningRate, config.beta1, config.beta2, config.epsilon);
    case 'rmsprop':
      return tf.train.rmsprop(
        config.learningRate,
        config.decay,
        config.momentum,
        config.epsilon,
        config.centered,
      );
  }
}

function layoutOf(optimizer: tf.Optimizer): { slots: [string, string][]; scalars: string[] } {
  const layout = LAYOUT[optimizer.getClassName()];
  if (!layout) throw new Error(`optimizer ${optimizer.getClassName()} state cannot be captured exactly`);
  return layout;
}

/** Host copies of the optimizer's slots plus its exact scalars. */
export function captureOptimizer(
  optimizer: tf.Optimizer,
  weightNames: readonly string[],
): { state: OptimizerState; tensors: NamedTensor[] } {
  const internals = optimizer as unknown as OptimizerInternals;
  const { slots, scalars } = layoutOf(optimizer);
  const tensors: NamedTensor[] = [];
  for (const [field, suffix] of slots) {
    const entries = (internals[field] as SlotEntry[] | undefined) ?? [];
    entries.forEach((entry, i) => {
      if (entry)
        tensors.push(toNamedTensor(`${OPTIMIZER_PREFIX}${weightNames[i]}/${suffix}`, entry.variable));
    });
  }
  const values: Record<string, number> = { iterations: internals.iterations_ ?? 0 };
  for (const name of scalars) values[name] = (internals[name] as tf.Variable).dataSync()[0] as number;
  const state = {
    className: optimizer.getClassName(),
    config: optimizer.getConfig() as Record<string, unknown>,
    scalars: values,
  };
  return { state, tensors };
}

/**
 * Puts captured state into a fresh optimizer of the same class, before its first step. Slots are
 * registered under the names tfjs itself would use for `variables` (this process's ids).
 */
export function restoreOptimizer(
  optimizer: tf.Optimizer,
  saved: OptimizerState,
  tensors: readonly NamedTensor[],
  weightNames: readonly string[],
  variables: readonly tf.Variable[],
): void {
  if (saved.className !== optimizer.getClassName()) {
    throw new Error(
      `checkpoint optimizer ${saved.className} cannot be restored into ${optimizer.getClassName()}`,
    );
  }
  const internals = optimizer as unknown as OptimizerInternals;
  const { slots, scalars } = layoutOf(optimizer);
  const byName = new Map(tensors.map((t) => [t.name, t]));
  for (const [field, suffix] of slots) {
    const found = weightNames.map((w) => byName.get(`${OPTIMIZER_PREFIX}${w}/${suffix}`));
    if (found.every((t) => t === undefined)) continue;
    internals[field] = found.map((t, i) => {
      if (!t) throw new Error(`checkpoint lacks optimizer slot ${weightNames[i]}/${suffix}`);
      const variable = tf.tidy(() => fromNamedTensor(t).variable(false));
      return { originalName: `${(variables[i] as tf.Variable).name}/${suffix}`, variable };
    });
  }
  internals.iterations_ = saved.scalars.iterations ?? 0;
  for (const name of scalars) {
    const value = saved.scalars[name];
    if (value === undefined) throw new Error(`checkpoint lacks optimizer scalar ${name}`);
    // A float32 held in a JS number converts back to the same float32 bits.
    tf.tidy(() => (internals[name] as tf.Variable).assign(tf.scalar(value, 'float32')));
  }
}

/**
 * Creates the slot variables tfjs would create lazily on the first step (zeros like each variable),
 * so a traced step finds them: a graph cannot create variables as it runs.
 */
export function ensureOptimizerSlots(optimizer: tf.Optimizer, variables: readonly tf.Variable[]): void {
  const internals = optimizer as unknown as OptimizerInternals;
  const centered = (optimizer.getConfig() as { centered?: boolean }).centered ?? false;
  for (const [field, suffix] of layoutOf(optimizer).slots) {
    if (field === 'accumulatedMeanGrads' && !centered) continue;
    const entries = ((internals[field] as SlotEntry[] | undefined) ?? []).slice();
    variables.forEach((v, i) => {
      entries[i] ??= {
        originalName: `${v.name}/${suffix}`,
        variable: tf.tidy(() => tf.zerosLike(v).variable(false)),
      };
    });
    internals[field] = entries;
  }
}
