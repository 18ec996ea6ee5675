// CheckpointSaver at a taken key: adopt the same checkpoint, step past a corrupt or foreign object to
// the next versioned key (`-v1`, …) with a warning naming it, and a typed conflict error when every
// version is taken; a save past its S3 deadline marks the store hung. Runs on the in-memory object
// client.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointCorruptError, CheckpointKeyConflictError } from '../../src/checkpoint/errors';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { S3DeadlineError } from '../../src/storage/deadline';
import { withDeadlines } from '../../src/storage/deadline-client';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { CheckpointSaver, MAX_KEY_VERSIONS, runFolderWriter } from '../../activities/checkpoint-saver';
import { sampleState } from '../helpers/checkpoint-fixtures';

function setup() {
  const objects = createMemoryObjectClient('bucket-a');
  const store = new ObjectCheckpointIO(objects);
  const warnings: string[] = [];
  const saver = new CheckpointSaver(runFolderWriter(store, 'run', (m) => warnings.push(m)));
  return { objects, store, saver, warnings };
}

const PLAIN = 'run/epoch=0001-step=0000030.ckpt';

/** A saver on these objects that logs nothing. */
function quietSaver(objects: ConstructorParameters<typeof ObjectCheckpointIO>[0]): CheckpointSaver {
  return new CheckpointSaver(runFolderWriter(new ObjectCheckpointIO(objects), 'run', () => {}));
}

/** Starts one background save of new state and returns the trouble its listeners heard. */
async function backgroundSaveHeard(saver: CheckpointSaver): Promise<Error[]> {
  const heard: Error[] = [];
  saver.onTrouble((err) => heard.push(err));
  saver.saveInBackground(() => Promise.resolve(sampleState({ weightsSha256: 'e'.repeat(64) })));
  await saver.idle();
  return heard;
}

function flipOneBit(objects: ReturnType<typeof createMemoryObjectClient>, key: string) {
  const object = objects.objects.get(key);
  assert.ok(object, key);
  const at = object.body.length - 3;
  object.body[at] = (object.body[at] ?? 0) ^ 0x10;
}

describe('CheckpointSaver at a key that is already taken', () => {
  test('adopts the object an earlier attempt wrote with the same state, without a warning', async () => {
    const { store, saver, warnings } = setup();
    const first = await store.save('run', sampleState());
    const ref = await saver.save(sampleState());
    assert.equal(ref.url, first.url);
    assert.equal(ref.sha256, first.sha256);
    assert.deepEqual(warnings, []);
  });

  test('a corrupt object at the key: saved under -v1, the bad object named and left alone', async () => {
    const { objects, store, saver, warnings } = setup();
    await store.save('run', sampleState());
    flipOneBit(objects, PLAIN);
    const ref = await saver.save(sampleState());
    assert.equal(ref.url, 's3://bucket-a/run/epoch=0001-step=0000030-v1.ckpt');
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /run\/epoch=0001-step=0000030\.ckpt holds an unreadable object/);
    await assert.rejects(store.load(`s3://bucket-a/${PLAIN}`), CheckpointCorruptError);
    assert.equal((await store.load(ref.url, ref)).meta.weightsSha256, sampleState().meta.weightsSha256);
    // A re-run reaching the same batch adopts -v1 (the plain key is still bad).
    const rerun = new CheckpointSaver(runFolderWriter(store, 'run', () => {}));
    const again = await rerun.save(sampleState());
    assert.equal(again.url, ref.url);
  });

  test('an object of other state at the key: saved under the next version', async () => {
    const { store, saver, warnings } = setup();
    await store.save('run', sampleState({ weightsSha256: 'd'.repeat(64) }));
    const ref = await saver.save(sampleState());
    assert.match(ref.url, /-v1\.ckpt$/);
    assert.match(warnings[0] ?? '', /other training state/);
  });

  test('every version taken: CheckpointKeyConflictError, not CheckpointCorruptError', async () => {
    const { store, saver } = setup();
    const other = sampleState({ weightsSha256: 'e'.repeat(64) });
    for (let v = 0; v <= MAX_KEY_VERSIONS; v++) await store.save('run', other, { version: v });
    await assert.rejects(saver.save(sampleState()), (err: unknown) => {
      assert.ok(err instanceof CheckpointKeyConflictError, String(err));
      assert.ok(!(err instanceof CheckpointCorruptError));
      assert.match(err.message, /another runName|delete the bad ones/);
      return true;
    });
  });
});

describe('CheckpointSaver when the store hangs', () => {
  /** The in-memory bucket behind the deadline wrapper, with writes that never finish while `hung`. */
  function hangingSetup() {
    const memory = createMemoryObjectClient('bucket-h');
    const state = { hung: false };
    const objects = withDeadlines(
      {
        ...memory,
        put: (key, body, options) =>
          state.hung ? new Promise<void>(() => {}) : memory.put(key, body, options),
      },
      { baseMs: 50, perMiBMs: 0 },
    );
    return { state, saver: quietSaver(objects) };
  }

  test('a save past its deadline marks the saver hung: listeners hear it once, later saves fail at once', async () => {
    const { state, saver } = hangingSetup();
    const first = await saver.save(sampleState());
    state.hung = true;
    const heard = await backgroundSaveHeard(saver);
    assert.equal(heard.length, 1);
    assert.ok(heard[0] instanceof S3DeadlineError);
    assert.equal(saver.latest?.url, first.url, 'the newest durable checkpoint is unchanged');
    const started = Date.now();
    await assert.rejects(saver.save(sampleState()), S3DeadlineError);
    assert.ok(Date.now() - started < 40, 'no second wait on the hung store');
    saver.saveInBackground(() => Promise.resolve(sampleState()));
    assert.equal(saver.busy, false, 'no background save starts either');
    saver.onTrouble((err) => heard.push(err));
    assert.equal(heard.length, 2, 'a late listener hears it at once');
  });
});

describe('CheckpointSaver when a background save fails', () => {
  function refusingSetup() {
    const memory = createMemoryObjectClient('bucket-r');
    const state = { refused: false };
    const objects = {
      ...memory,
      put: (key: string, body: Buffer, options?: Parameters<typeof memory.put>[2]) =>
        state.refused
          ? Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:9000'))
          : memory.put(key, body, options),
    };
    return { state, saver: quietSaver(objects) };
  }

  test('a refused save stops further saves and tells the listeners (training must not run on past it)', async () => {
    const { state, saver } = refusingSetup();
    const first = await saver.save(sampleState());
    state.refused = true;
    const heard = await backgroundSaveHeard(saver);
    assert.equal(heard.length, 1);
    assert.match(heard[0]?.message ?? '', /save checkpoint failed/);
    assert.match(String((heard[0]?.cause as Error | undefined)?.message), /ECONNREFUSED/);
    assert.equal(saver.failed, heard[0]);
    assert.equal(saver.latest?.url, first.url, 'the newest durable checkpoint is unchanged');
    state.refused = false;
    saver.saveInBackground(() => Promise.resolve(sampleState()));
    assert.equal(saver.busy, false, 'no background save starts after a failed one');
  });

  test("a snapshot the trainer never gave (its job failed) is not the store's trouble", async () => {
    const { saver } = refusingSetup();
    const heard: Error[] = [];
    saver.onTrouble((err) => heard.push(err));
    saver.saveInBackground(() => Promise.reject(new Error('the trainer run ended')));
    await saver.idle();
    assert.deepEqual(heard, []);
    assert.equal(saver.failed, undefined);
  });
});
