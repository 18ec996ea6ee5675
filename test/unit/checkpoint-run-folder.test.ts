// The run folder: unique per workflow run by default, a folder holding another run's checkpoints is
// refused (unless resuming from one of them), and a resume or fork pins its source checkpoint.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RunFolderTakenError } from '../../src/checkpoint/errors';
import { defaultRunName, isValidRunName } from '../../src/checkpoint/keys';
import { pinnedCheckpoints } from '../../src/checkpoint/pins';
import { parseSpec } from '../../src/spec';
import { pinStart, prepareRunFolder } from '../../activities/run-folder';
import { sampleState } from '../helpers/checkpoint-fixtures';
import { memoryStorage } from '../helpers/storage-ports';

const RUN_ID = '0193a2f4-7c1e-7b7a-9d3e-1234567890ab';

test('the default run folder is the workflow id plus the last 8 characters of the first run id, always a valid name', () => {
  assert.equal(defaultRunName('nightly', RUN_ID), 'nightly-567890ab');
  // Run ids are UUIDv7: two started within a minute share their first characters, not their last.
  const a = defaultRunName('nightly', '019ad1a2-0000-7000-8000-bbbbbbbbbbbb');
  assert.notEqual(a, defaultRunName('nightly', '019ad1a2-7c1e-7b7a-9d3e-aaaaaaaaaaaa'));
  assert.equal(defaultRunName('nightly'), 'nightly', 'no run id: the workflow id, as before');
  for (const id of ['a b/c', '..', '-x', 'é'.repeat(200), 'x'.repeat(300), 'a..b']) {
    const name = defaultRunName(id, RUN_ID);
    assert.ok(isValidRunName(name), `${JSON.stringify(id)} → ${name}`);
    assert.ok(name.endsWith('-567890ab'), name);
  }
});

test('a folder holding checkpoints is refused unless the run resumes from one of them', async () => {
  const { store, runs } = memoryStorage('bucket-f');
  const spec = (extra: object) =>
    parseSpec({ task: 'synthetic', epochs: 3, seed: 1, runName: 'shared', ...extra });
  await prepareRunFolder(runs, spec({}), { holder: 'wf-a' }); // empty: fine
  const saved = await store.save('shared', sampleState());
  await assert.rejects(prepareRunFolder(runs, spec({}), { holder: 'wf-b' }), (err: unknown) => {
    assert.ok(err instanceof RunFolderTakenError);
    assert.match(err.message, /pick another runName.*resumeFrom: s3:\/\/bucket-f\/shared\/epoch=0001/);
    return true;
  });
  await prepareRunFolder(runs, spec({ resumeFrom: saved.url }), { holder: 'wf-b' });
  assert.deepEqual(await pinnedCheckpoints(runs, 'shared'), [saved.url], 'held: its retention keeps it');
  const other = await store.save('other', sampleState());
  await assert.rejects(
    prepareRunFolder(runs, spec({ resumeFrom: other.url }), { holder: 'wf-c' }),
    RunFolderTakenError,
  );
});

test('a folder holding objects only in subfolders (parallel/, log/) is refused too', async () => {
  const { objects, runs } = memoryStorage('bucket-f');
  await objects.put('par/parallel/round=000000/global.ckpt', Buffer.from('x'));
  const spec = parseSpec({ task: 'synthetic', epochs: 3, seed: 1, runName: 'par' });
  await assert.rejects(prepareRunFolder(runs, spec, { holder: 'wf-a' }), RunFolderTakenError);
});

test("a resume or fork from another run's checkpoint pins it in that run's folder", async () => {
  const { store, runs } = memoryStorage('bucket-f');
  const parent = await store.save('parent', sampleState());
  const ref = { url: parent.url, sha256: parent.sha256, bytes: parent.bytes, epoch: 1, batch: 0, step: 30 };
  const spec = parseSpec({ task: 'synthetic', epochs: 3, seed: 1, runName: 'child' });
  await pinStart(runs, { spec, initFrom: ref });
  assert.deepEqual(await pinnedCheckpoints(runs, 'parent'), [parent.url]);
  await pinStart(runs, { spec: { ...spec, runName: 'parent' }, resumeFrom: ref });
  assert.deepEqual(await pinnedCheckpoints(runs, 'parent'), [parent.url], 'no self-pin');
});
