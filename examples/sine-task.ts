/**
 * A user task, registered when this module is loaded. Workers load it with
 * `durable-fit worker --task-module examples/sine-task.ts` (or `DFIT_TASK_MODULES`), so both the
 * worker and its trainer process know the task; `examples/custom-task.ts` uses it directly.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { createSeedSequence, registerTask } from '../src/training/tasks';
import type { TaskDefinition } from '../src/training/tasks';

const hparams = z.object({
  samples: z.number().int().min(1).default(128),
  units: z.number().int().min(1).default(16),
  learningRate: z.number().positive().default(0.01),
});

/** y = sin(3x) on a fixed grid: deterministic data, no Math.random anywhere. */
export const sineTask: TaskDefinition<typeof hparams> = {
  name: 'sine-regression',
  hparams,
  buildModel(h, seed) {
    const next = createSeedSequence(seed); // one seed per random initializer, in build order
    return tfl.sequential({
      name: 'sine',
      layers: [
        tfl.layers.dense({
          name: 'hidden', // name every layer: checkpoints map weights by these names
          units: h.units,
          activation: 'tanh',
          inputShape: [1],
          kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
        }),
        tfl.layers.dense({
          name: 'out',
          units: 1,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }),
        }),
      ],
    });
  },
  loadDataset(h) {
    const split = (n: number, offset: number) => {
      const x = Float32Array.from({ length: n }, (_, i) => -1 + (2 * (i + offset)) / n);
      return { x, y: x.map((v) => Math.sin(3 * v)), size: n };
    };
    return { inputShape: [1], labelShape: [1], train: split(h.samples, 0), validation: split(32, 0.5) };
  },
  optimizer: (h) => ({ kind: 'adam', learningRate: h.learningRate }),
  loss: (labels, outputs) => tf.losses.meanSquaredError(labels, outputs) as tf.Scalar,
  metrics: { mae: (labels, outputs) => tf.mean(tf.abs(tf.sub(labels, outputs))) as tf.Scalar },
};

registerTask(sineTask);
