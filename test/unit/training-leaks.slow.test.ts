/** No leaks: tf.memory().numTensors stays flat over 50 epochs and across warm runs. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { captureState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import { Trainer } from '../../src/training/trainer';

for (const backend of ['cpu', 'wasm'] as const) {
  test(`tensor count is flat over 50 epochs of synthetic (${backend})`, async () => {
    const trainer = await Trainer.create({ backend });
    const config = { task: 'synthetic', hparams: { dropout: 0.3 }, seed: 2, batchSize: 16, epochs: 50 };
    const warmup = trainer.open(config);
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    await runSession(warmup, { onEpochEnd: () => counts.push(tf.memory().numTensors) });
    captureState(warmup);
    assert.equal(counts.length, 50);
    // The optimizer creates its slots on the first step; from then on nothing may accumulate.
    assert.ok(
      counts.every((c) => c === counts[0]),
      `tensor counts drift: ${counts.join(',')}`,
    );
    warmup.dispose();
    for (let i = 0; i < 3; i++) {
      const again = trainer.open({ ...config, epochs: 2 });
      await runSession(again);
      again.dispose();
    }
    assert.ok(tf.memory().numTensors <= before, `warm runs leaked: ${tf.memory().numTensors} > ${before}`);
  });
}
