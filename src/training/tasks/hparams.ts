/**
 * Hparam pieces the built-in tasks share, for their descriptors (descriptors.ts) and builders: zod
 * only, no tfjs.
 */
import { z } from 'zod';
import type { OptimizerConfig } from './types';

/**
 * An integer hparam limited to `[min, max]`. Hparams come from users (and from anyone who can start a
 * workflow), so sizes get ceilings that keep a worker alive (`hidden: 1e9` would exhaust its memory);
 * the message gives the allowed range.
 */
export function intInRange(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.number().int(message).min(min, message).max(max, message);
}

/** The optimizer choices of the built-in tasks. */
export const optimizerHparams = {
  optimizer: z.enum(['adam', 'sgd', 'sgd-momentum', 'rmsprop']).default('adam'),
  learningRate: z.number().positive().default(0.001),
  /** Momentum for `sgd-momentum` and `rmsprop`. */
  momentum: z.number().min(0).max(1).default(0.9),
};

/** The built-in tasks' optimizer hparams → an engine optimizer config. */
export function toOptimizerConfig(h: {
  optimizer: 'adam' | 'sgd' | 'sgd-momentum' | 'rmsprop';
  learningRate: number;
  momentum: number;
}): OptimizerConfig {
  switch (h.optimizer) {
    case 'adam':
      return { kind: 'adam', learningRate: h.learningRate };
    case 'sgd':
      return { kind: 'sgd', learningRate: h.learningRate };
    case 'sgd-momentum':
      return { kind: 'momentum', learningRate: h.learningRate, momentum: h.momentum };
    case 'rmsprop':
      return { kind: 'rmsprop', learningRate: h.learningRate, momentum: h.momentum };
  }
}
