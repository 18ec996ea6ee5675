/** Unit tests of the training engine in-process: tasks, hparams, RNG, hashing, capture/restore. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs-core';
import { IncompatibleTopologyError } from '../../src/checkpoint/errors';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { selectBackend } from '../../src/training/backend';
import { captureState, restoreState } from '../../src/training/capture';
import {
  BackendUnavailableError,
  IncompatibleStateError,
  InvalidHparamsError,
  TaskDefinitionError,
  UnknownTaskError,
} from '../../src/training/errors';
import { RunRng, epochOrder } from '../../src/training/rng';
import { runSession } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { getTask, listTasks, validateHparams } from '../../src/training/tasks';
import { Trainer } from '../../src/training/trainer';
import { computeWeightsSha256 } from '../../src/training/weights-hash';
import { BUILT_IN_TASKS } from '../helpers/built-in-tasks';

const config: RunConfig = { task: 'synthetic', hparams: { dropout: 0.5 }, seed: 3, batchSize: 16, epochs: 2 };
let trainer: Trainer;
before(async () => {
  trainer = await Trainer.create({ backend: 'cpu' });
});

describe('task registry and hparams', () => {
  test('built-in tasks are registered', () => {
    assert.deepEqual(listTasks(), BUILT_IN_TASKS);
  });
  test('unknown task names the registered ones', () => {
    assert.throws(
      () => getTask('nope'),
      (e: unknown) => e instanceof UnknownTaskError && /synthetic/.test(e.message),
    );
  });
  test('defaults are applied', () => {
    const h = validateHparams(getTask('synthetic'), { hidden: 4 });
    assert.equal(h.hidden, 4);
    assert.equal(h.optimizer, 'adam');
  });
  test('unknown and wrongly typed hparams are refused with each issue named', () => {
    assert.throws(
      () => validateHparams(getTask('synthetic'), { hiden: 4, dropout: 'x' }),
      (e: unknown) =>
        e instanceof InvalidHparamsError &&
        /unknown hparam hiden/.test(e.message) &&
        /dropout/.test(e.message),
    );
  });
  test('an unavailable backend lists what is available', async () => {
    await assert.rejects(
      selectBackend('tensorflow-gpu'),
      (e: unknown) => e instanceof BackendUnavailableError && e.available.includes('cpu'),
    );
  });
});

describe('determinism we own', () => {
  test('rng state round-trips through JSON and continues the same stream', () => {
    const a = RunRng.create(9);
    a.nextStepSeed();
    const b = RunRng.restore(JSON.parse(JSON.stringify(a.state())));
    assert.deepEqual([a.nextStepSeed(), a.nextStepSeed()], [b.nextStepSeed(), b.nextStepSeed()]);
  });
  test('epoch order depends on (seed, epoch) only and is a permutation', () => {
    assert.deepEqual(epochOrder(1, 2, 50), epochOrder(1, 2, 50));
    assert.notDeepEqual(epochOrder(1, 2, 50), epochOrder(1, 3, 50));
    assert.deepEqual(
      [...epochOrder(1, 2, 50)].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
    );
  });
  test('training never calls Math.random (every optimizer, dropout, capture and restore)', async () => {
    const original = Math.random;
    Math.random = () => {
      throw new Error('Math.random called on the training path');
    };
    try {
      for (const optimizer of ['adam', 'sgd', 'sgd-momentum', 'rmsprop']) {
        const run = { ...config, hparams: { dropout: 0.5, optimizer } };
        const session = trainer.open(run);
        session.step();
        const state = captureState(session);
        session.dispose();
        const resumed = trainer.open(run, state);
        await runSession(resumed);
        resumed.dispose();
      }
    } finally {
      Math.random = original;
    }
  });
  test('dropout draws a new mask each step (a fixed seed would repeat it)', () => {
    const withDropout = trainer.open(config);
    const without = trainer.open({ ...config, hparams: { dropout: 0 } });
    const diffs = [withDropout, without].map((s) => {
      s.step();
      return s;
    });
    assert.notEqual(captureState(diffs[0]!).meta.weightsSha256, captureState(diffs[1]!).meta.weightsSha256);
    diffs.forEach((s) => s.dispose());
  });
});

describe('weightsSha256', () => {
  test('does not depend on tensor order and ignores optimizer slots', () => {
    const t = (name: string, v: number) => ({
      name,
      dtype: 'F32' as const,
      shape: [1],
      data: new Uint8Array(new Float32Array([v]).buffer),
    });
    const a = computeWeightsSha256([t('model/b', 1), t('model/a', 2), t('optimizer/a/m', 3)]);
    assert.equal(a, computeWeightsSha256([t('model/a', 2), t('model/b', 1)]));
    assert.notEqual(a, computeWeightsSha256([t('model/a', 2), t('model/b', 1.0000001)]));
  });
});

describe('capture and restore', () => {
  test('tensor names are stable layer weight names, slots mapped by them', () => {
    const session = trainer.open(config);
    session.step();
    const names = captureState(session).tensors.map((t) => t.name);
    session.dispose();
    assert.ok(names.includes('model/hidden/kernel'));
    assert.ok(names.includes('optimizer/hidden/kernel/m'));
    assert.ok(names.includes('optimizer/logits/bias/v'));
  });
  test('Adam accBeta1/accBeta2 are restored bit for bit (setWeights would recompute them with pow)', () => {
    const session = trainer.open(config);
    for (let i = 0; i < 8; i++) session.step();
    const state = decodeCheckpoint(encodeCheckpoint(captureState(session)));
    session.dispose();
    const resumed = trainer.open(config, state);
    const internals = resumed.parts.optimizer as unknown as Record<string, tf.Variable>;
    const acc = ['accBeta1', 'accBeta2'].map((k) => internals[k]!.dataSync()[0]);
    assert.deepEqual(acc, [state.meta.optimizer.scalars.accBeta1, state.meta.optimizer.scalars.accBeta2]);
    const viaPow = [0.9, 0.999].map((b) => tf.pow(tf.scalar(b), 8 + 1).dataSync()[0]);
    assert.notDeepEqual(acc, viaPow, 'pow(beta, t) differs from the product tfjs accumulates');
    resumed.dispose();
  });
  test('a different task, hparams or seed is refused with the differences shown', () => {
    const session = trainer.open(config);
    session.step();
    const state = captureState(session);
    session.dispose();
    const other = { ...config, seed: 4, hparams: { dropout: 0.5, hidden: 9 } };
    assert.throws(
      () => trainer.open(other, state),
      (e: unknown) =>
        e instanceof IncompatibleStateError &&
        e.differences.some((d) => d.field === 'hparams.hidden' && d.checkpoint === '8' && d.run === '9') &&
        e.differences.some((d) => d.field === 'seed'),
    );
    assert.throws(
      () => trainer.open({ ...config, task: 'mnist-mlp', hparams: { trainSize: 64, valSize: 16 } }, state),
      IncompatibleStateError,
    );
    assert.equal(tf.memory().numTensors >= 0, true);
  });
  test('damaged weights are refused; missing weights list the difference', () => {
    const session = trainer.open(config);
    const state = captureState(session);
    session.dispose();
    const dropped = { ...state, tensors: state.tensors.filter((t) => t.name !== 'model/logits/bias') };
    assert.throws(
      () => trainer.open(config, { ...dropped, meta: { ...state.meta, weightsSha256: '' } }),
      IncompatibleTopologyError,
    );
    assert.throws(() => trainer.open(config, dropped), /damaged/);
  });
  test('another backend is refused unless allowed, then recorded', () => {
    const session = trainer.open(config);
    const state = captureState(session);
    session.dispose();
    const wasmState = { ...state, meta: { ...state.meta, backend: { name: 'wasm', versions: {} } } };
    assert.throws(
      () => trainer.open(config, wasmState),
      (e: unknown) => e instanceof IncompatibleStateError && /backend/.test(e.message),
    );
    const allowed = trainer.open(config, wasmState, { allowBackendChange: true });
    assert.equal(captureState(allowed).meta.backend.crossBackendResume, true);
    allowed.dispose();
  });
  test('restoreState needs a fresh session', () => {
    const session = trainer.open(config);
    const state = captureState(session);
    session.step();
    assert.throws(() => restoreState(session, state), /fresh session/);
    session.dispose();
  });
  test('a task with automatically named layers is refused', async () => {
    const { registerTask } = await import('../../src/training/tasks');
    const tfl = await import('@tensorflow/tfjs-layers');
    const base = getTask('synthetic');
    registerTask({
      ...base,
      name: 'unnamed-layers',
      buildModel: () =>
        tfl.sequential({
          layers: [tfl.layers.dense({ units: 3, inputShape: [6], kernelInitializer: 'zeros' })],
        }),
    });
    assert.throws(() => trainer.open({ ...config, task: 'unnamed-layers' }), TaskDefinitionError);
  });
});
