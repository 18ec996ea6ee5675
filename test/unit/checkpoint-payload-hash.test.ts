// Format v2: a .ckpt verifies itself (payload_sha256 in __metadata__), so it survives a copy that
// drops our object metadata; v1 files are still read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CheckpointCorruptError } from '../../src/checkpoint/errors';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointHeader } from '../../src/checkpoint/format';
import { PAYLOAD_SHA256_KEY } from '../../src/checkpoint/payload-hash';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { importCheckpointFile } from '../../src/checkpoint/import-file';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { sampleState, editHeader } from '../helpers/checkpoint-fixtures';

describe('embedded payload hash (format v2)', () => {
  test('every file embeds a 64-hex payload_sha256 and decodes', () => {
    const bytes = encodeCheckpoint(sampleState());
    assert.match(readCheckpointHeader(bytes).metadata[PAYLOAD_SHA256_KEY] ?? '', /^[0-9a-f]{64}$/);
    assert.equal(decodeCheckpoint(bytes).meta.formatVersion, 2);
  });

  test('an edited metadata entry (the RNG state, the cursor) is a hash mismatch', () => {
    const bytes = encodeCheckpoint(sampleState());
    const edited = editHeader(bytes, (m) => {
      m.cursor = m.cursor!.replace('"batch":', '"batch":1');
    });
    assert.throws(
      () => decodeCheckpoint(edited),
      (err: unknown) => {
        assert.ok(err instanceof CheckpointCorruptError);
        assert.equal(err.kind, 'hash-mismatch');
        return true;
      },
    );
  });

  test('a v2 file without its hash is refused with the reason', () => {
    const stripped = editHeader(encodeCheckpoint(sampleState()), (m) => delete m[PAYLOAD_SHA256_KEY]);
    assert.throws(
      () => decodeCheckpoint(stripped),
      /bad-metadata: no SHA-256 in object metadata, and the file embeds none/,
    );
  });

  test('a v1 file (no embedded hash) is still read', () => {
    const state = sampleState();
    const v1 = editHeader(encodeCheckpoint(state), (m) => {
      m.format_version = '1';
      delete m[PAYLOAD_SHA256_KEY];
    });
    assert.equal(decodeCheckpoint(v1).meta.formatVersion, 1);
    assert.deepEqual(decodeCheckpoint(v1).meta.cursor, state.meta.cursor);
  });

  test('the store loads a copy without object metadata by its embedded hash; junk and v1 are refused', async () => {
    const objects = createMemoryObjectClient('bkt');
    const store = new ObjectCheckpointIO(objects);
    const bytes = encodeCheckpoint(sampleState());
    await objects.put('copied/epoch=0001-step=0000010.ckpt', bytes);
    const loaded = await store.load('s3://bkt/copied/epoch=0001-step=0000010.ckpt');
    assert.deepEqual(loaded.meta.cursor, sampleState().meta.cursor);
    const junk = Buffer.from(bytes);
    junk[junk.length - 1] = (junk.at(-1) ?? 0) ^ 1;
    await objects.put('copied/epoch=0002-step=0000020.ckpt', junk);
    await assert.rejects(store.load('s3://bkt/copied/epoch=0002-step=0000020.ckpt'), /hash-mismatch/);
    await objects.put('copied/epoch=0003-step=0000030.ckpt', bytes.subarray(0, 100));
    await assert.rejects(store.load('s3://bkt/copied/epoch=0003-step=0000030.ckpt'), /truncated/);
    const v1 = editHeader(bytes, (m) => {
      m.format_version = '1';
      delete m[PAYLOAD_SHA256_KEY];
    });
    await objects.put('copied/epoch=0004-step=0000040.ckpt', v1);
    await assert.rejects(store.load('s3://bkt/copied/epoch=0004-step=0000040.ckpt'), /embeds none/);
  });

  test('importFile uploads under the cursor key with our metadata; a tampered file is refused', async () => {
    const objects = createMemoryObjectClient('bkt');
    const store = new ObjectCheckpointIO(objects);
    const state = sampleState();
    const saved = await importCheckpointFile(
      store,
      undefined,
      'moved',
      encodeCheckpoint(state),
      'local.ckpt',
    );
    assert.match(saved.url, /^s3:\/\/bkt\/moved\/epoch=\d{4}-step=\d{7}\.ckpt$/);
    assert.equal((await store.stat(saved.url)).sha256, saved.sha256);
    const tampered = Buffer.from(encodeCheckpoint(state));
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    await assert.rejects(
      importCheckpointFile(store, undefined, 'moved-2', tampered, 'local.ckpt'),
      /hash-mismatch/,
    );
    await assert.rejects(
      importCheckpointFile(store, undefined, 'moved-3', Buffer.from('junk junk junk'), 'junk.ckpt'),
      /corrupt/,
    );
  });
});
