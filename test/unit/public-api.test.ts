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
