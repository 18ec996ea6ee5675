// The public API is explicit: what users import from src/index.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as api from '../../src';

test('src/index.ts exports the documented entry points', () => {
  for (const name of [
    'resolveOptions',
    'parseSpec',
    'startTraining',
    'connectClient',
    'DurableTrainingPlugin',
    'createWorker',
    'createProcessEngine',
    'workerRoute',
    'CheckpointStore',
    'registerS3IOHandlers',
    'createStore',
    'encodeCheckpoint',
    'decodeCheckpoint',
    'selectForDeletion',
    'registerTask',
    'getTask',
    'Trainer',
    'TrainerProcess',
    'SEARCH_ATTRIBUTES',
  ]) {
    assert.ok(name in api, `${name} is exported`);
  }
  assert.ok(api.listTasks().includes('mnist-mlp'));
});

test('the training workflow implements its contract signature', async () => {
  const { trainModel } = await import('../../workflows');
  const typed: api.TrainModel = trainModel; // a compile-time check: tsc fails when they drift
  assert.equal(typed.name, api.TRAIN_MODEL);
});
