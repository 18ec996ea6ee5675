// The cursor a checkpoint's key names (issue 22 item 4): what a resume source's file must hold.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkpointFileName, cursorOfKey, formatCheckpointKey } from '../../src/checkpoint/keys';

test('a key in our layout names its cursor, in any folder, versioned or not', () => {
  assert.deepEqual(cursorOfKey('run/epoch=0001-step=0000250.ckpt'), { epoch: 1, step: 250 });
  assert.deepEqual(cursorOfKey('a/b/epoch=0012-step=0004000-v2.ckpt'), { epoch: 12, step: 4000 });
  assert.deepEqual(cursorOfKey('epoch=10000-step=12345678.ckpt'), { epoch: 10000, step: 12345678 });
  assert.deepEqual(cursorOfKey(formatCheckpointKey('r', 3, 7, 1)), { epoch: 3, step: 7 });
});

test('other names claim no cursor', () => {
  for (const key of [
    'run/parallel/round=0003/global.ckpt',
    'run/parallel/round=0003/shard=01/step=0000065-try=0.ckpt',
    'run/model.ckpt',
    'run/epoch=1-step=250.ckpt', // not zero-padded: not our layout (Lightning's own names look so)
    'run/xepoch=0001-step=0000250.ckpt',
    'run/epoch=0001-step=0000250.ckpt.bak',
  ])
    assert.equal(cursorOfKey(key), undefined, key);
});

test('checkpointFileName is the file part of formatCheckpointKey', () => {
  assert.equal(checkpointFileName(1, 250), 'epoch=0001-step=0000250.ckpt');
  assert.equal(formatCheckpointKey('run', 1, 250, 2), `run/${checkpointFileName(1, 250, 2)}`);
  assert.throws(() => checkpointFileName(-1, 0), RangeError);
});
