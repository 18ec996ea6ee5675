// Retention over a run folder's real contents (in-memory store): intra-epoch checkpoints of finished
// epochs go although the workflow never recorded them, the epoch under way keeps its own, another
// run's pin keeps a checkpoint keepLast would drop, and nothing is deleted without a policy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pinCheckpoint } from '../../src/checkpoint/pins';
import type { RecordedCheckpoint } from '../../src/checkpoint/run-retention';
import { planRetention } from '../../src/checkpoint/run-retention';
import { sampleState } from '../helpers/checkpoint-fixtures';
import { memoryStorage } from '../helpers/storage-ports';

const B = 10; // batches per epoch

async function folder() {
  const { store, runs } = memoryStorage('bucket-r');
  const save = async (epoch: number, batch: number): Promise<RecordedCheckpoint> => {
    const cursor = { epoch, batch, step: epoch * B + batch, batchesPerEpoch: B };
    const saved = await store.save('run', sampleState({ cursor }));
    return { url: saved.url, ...cursor };
  };
  // Epochs 0 and 1 finished (ends at epoch=1 and epoch=2), epoch 2 under way.
  const mids = [await save(0, 3), await save(0, 6), await save(1, 4)];
  const ends = [await save(1, 0), await save(2, 0)];
  const current = [await save(2, 5)];
  return { runs, mids, ends, current };
}

const names = (urls: string[]) => urls.map((u) => u.split('/').pop()).sort();

test('intra-epoch checkpoints of finished epochs are deleted though unrecorded; the epoch under way keeps its own', async () => {
  const { runs, ends } = await folder();
  const recorded = ends; // the workflow records epoch ends only
  const input = {
    runName: 'run',
    recorded,
    epochEnds: ends.map((e) => ({ url: e.url, metrics: { loss: 1 } })),
    policy: { keepLast: 5 },
    resumeTarget: (ends[1] as RecordedCheckpoint).url,
  };
  assert.deepEqual(names(await planRetention(runs, input)), [
    'epoch=0000-step=0000003.ckpt',
    'epoch=0000-step=0000006.ckpt',
    'epoch=0001-step=0000014.ckpt',
  ]);
  assert.deepEqual(await planRetention(runs, { ...input, policy: {} }), [], 'no policy: keep all');
});

test("another run's pin keeps a checkpoint that keepLast 1 would delete", async () => {
  const { runs, ends } = await folder();
  const [first, last] = ends as [RecordedCheckpoint, RecordedCheckpoint];
  assert.match(String(await pinCheckpoint(runs, first.url, 'child-run')), /run\/pins\/child-run\.json$/);
  assert.equal(await pinCheckpoint(runs, first.url, 'run'), undefined, 'a run does not pin its own');
  const deleted = await planRetention(runs, {
    runName: 'run',
    recorded: ends,
    epochEnds: ends.map((e) => ({ url: e.url, metrics: {} })),
    policy: { keepLast: 1 },
    resumeTarget: last.url,
  });
  assert.ok(!deleted.includes(first.url), 'pinned epoch end deleted');
  assert.equal(names(deleted).length, 3, 'the finished epochs’ intra-epoch checkpoints still go');
});
