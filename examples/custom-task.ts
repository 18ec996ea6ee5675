/**
 * Registering your own task — the plugin surface of durable-fit (like a LightningModule).
 *
 *   npx tsx examples/custom-task.ts
 *
 * Trains a tiny regression model, interrupts it mid-epoch, restores it from `.ckpt` bytes in a
 * fresh session and shows that the resumed run ends with the same weights hash.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/format';
import { captureState, finalizeState } from '../src/training/capture';
import { runSession } from '../src/training/run-loop';
import { createSeedSequence, registerTask } from '../src/training/tasks';
import type { TaskDefinition } from '../src/training/tasks';
import { Trainer } from '../src/training/trainer';

const hparams = z.object({
  samples: z.number().int().min(1).default(128),
  units: z.number().int().min(1).default(16),
  learningRate: z.number().positive().default(0.01),
});

/** y = sin(3x) on a fixed grid: deterministic data, no Math.random anywhere. */
const sineTask: TaskDefinition<typeof hparams> = {
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

async function main(): Promise<void> {
  registerTask(sineTask);
  const trainer = await Trainer.create({ backend: 'cpu' });
  const config = { task: 'sine-regression', hparams: { units: 12 }, seed: 7, batchSize: 16, epochs: 4 };

  const straight = trainer.open(config);
  const { state: full } = await runSession(straight);
  straight.dispose();

  const interrupted = trainer.open(config);
  await runSession(interrupted, { stopAtStep: 13 }); // mid-epoch 1
  const bytes = encodeCheckpoint(captureState(interrupted));
  interrupted.dispose();

  const resumed = trainer.open(config, decodeCheckpoint(bytes));
  await runSession(resumed);
  const end = captureState(resumed);
  resumed.dispose();

  const fullHash = finalizeState(full).meta.weightsSha256; // runSession returns a phase-1 capture
  console.log('epoch metrics:', end.meta.metrics.at(-1));
  console.log('uninterrupted:', fullHash);
  console.log(
    'resumed:      ',
    end.meta.weightsSha256,
    end.meta.weightsSha256 === fullHash ? '(identical)' : '(DIFFERENT)',
  );
}

void main();
