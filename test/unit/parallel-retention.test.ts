// Which data-parallel checkpoints retention deletes (pure): round globals ranked like epoch ends,
// shard objects of finished rounds gone except the results the next round starts from.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { selectParallelDeletions } from '../../src/checkpoint/run-retention';

const url = (rest: string) => `s3://b/run/parallel/${rest}.ckpt`;
const listed = [
  url('round=0000/global'),
  url('round=0000/shard=00/step=0000005-try=0'),
  url('round=0000/shard=00/end-try=0'),
  url('round=0000/shard=01/end-try=1'),
  url('round=0001/global'),
  url('round=0001/shard=00/end-try=0'),
  url('round=0001/shard=01/end-try=0'),
  url('round=0002/global'),
];
const input = {
  runName: 'run',
  globals: [
    { url: url('round=0001/global'), metrics: { valLoss: 0.2 } },
    { url: url('round=0002/global'), metrics: { valLoss: 0.5 } },
  ],
  resumeTarget: url('round=0002/global'),
  keep: [url('round=0001/shard=00/end-try=0'), url('round=0001/shard=01/end-try=0')],
};

test('keepLast 1: only the current global and the shard results the next round needs stay', () => {
  const deleted = selectParallelDeletions(listed, { ...input, policy: { keepLast: 1 } });
  assert.deepEqual(
    listed.filter((u) => !deleted.includes(u)),
    [url('round=0001/shard=00/end-try=0'), url('round=0001/shard=01/end-try=0'), url('round=0002/global')],
  );
});

test('topK 1 by valLoss keeps the best global too; pins and unknown keys are never deleted', () => {
  const odd = 's3://b/run/parallel/notes/x.ckpt';
  const deleted = selectParallelDeletions(
    [...listed, odd],
    { ...input, policy: { topK: { k: 1, monitor: 'valLoss', mode: 'min' } } },
    [url('round=0000/shard=00/end-try=0')],
  );
  assert.ok(!deleted.includes(url('round=0001/global')), 'the best global stays');
  assert.ok(!deleted.includes(url('round=0002/global')), 'the resume target stays');
  assert.ok(!deleted.includes(url('round=0000/shard=00/end-try=0')), 'a pinned object stays');
  assert.ok(!deleted.includes(odd));
  assert.deepEqual(deleted.sort(), [
    url('round=0000/global'),
    url('round=0000/shard=00/step=0000005-try=0'),
    url('round=0000/shard=01/end-try=1'),
  ]);
});

test('no policy: nothing is deleted', () => {
  const deleted = selectParallelDeletions(listed, { ...input, policy: {} });
  assert.deepEqual(deleted, []);
});
