// Checkpoints that travel, on the real MinIO: a genuine .ckpt re-uploaded by another tool (the raw
// minio client, no object metadata, as `mc cp` or `aws s3 cp` of a downloaded file) is accepted by
// its embedded hash; junk and truncated files under .ckpt names are refused with a reason; and
// `ckpt import` puts a local file back with our metadata after verifying it.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CheckpointCorruptError } from '../../src/checkpoint/errors';
import { SHA256_METADATA_KEY } from '../../src/checkpoint/checkpoint-io';
import { importCheckpointFile } from '../../src/checkpoint/import-file';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { sampleState } from '../helpers/checkpoint-fixtures';
import { rawMinioClient } from '../helpers/raw-minio';
import { testStack } from '../helpers/stack-env';

const connection: MinioConnection = {
  ...testStack().s3,
  bucket: `ckpt-travel-${process.pid}-${Date.now() % 1e6}`,
};
const objects = createMinioObjectClient(connection);
const store = new ObjectCheckpointIO(objects);
const runs = new ObjectRunFolder(objects);
const raw = rawMinioClient(connection);
const url = (key: string) => `s3://${connection.bucket}/${key}`;
const dir = mkdtempSync(path.join(os.tmpdir(), 'ckpt-travel-'));

before(async () => {
  if (!(await objects.bucketExists())) await objects.makeBucket();
});

after(async () => {
  for (const o of await objects.list('')) await objects.remove(o.key);
});

describe('checkpoints that travel (MinIO)', () => {
  test('a genuine checkpoint re-uploaded without our metadata is accepted; junk and truncated are refused', async () => {
    const saved = await store.save('origin', sampleState());
    const file = path.join(dir, 'downloaded.ckpt');
    await store.getToFile(saved.url, file);
    const bytes = await readFile(file);
    const copyKey = 'copied/epoch=0001-step=0000010.ckpt';
    await raw.putObject(connection.bucket, copyKey, bytes, bytes.length);
    assert.equal((await store.stat(url(copyKey))).sha256, undefined); // the metadata is gone
    const loaded = await store.load(url(copyKey));
    assert.deepEqual(loaded.meta.cursor, sampleState().meta.cursor);
    await store.getToFile(url(copyKey), path.join(dir, 'again.ckpt'));

    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    const cases: [string, Buffer, RegExp][] = [
      ['junk/epoch=0001-step=0000010.ckpt', Buffer.from('not a checkpoint at all'), /bad-header|truncated/],
      ['cut/epoch=0001-step=0000010.ckpt', bytes.subarray(0, bytes.length - 7), /truncated/],
      ['flip/epoch=0001-step=0000010.ckpt', flipped, /hash-mismatch/],
    ];
    for (const [key, body, reason] of cases) {
      await raw.putObject(connection.bucket, key, body, body.length);
      await assert.rejects(store.load(url(key)), (err: unknown) => {
        assert.ok(err instanceof CheckpointCorruptError, String(err));
        assert.match(err.message, reason);
        return true;
      });
    }
  });

  test('import uploads a verified local file with our metadata; a tampered one is refused', async () => {
    const saved = await store.save('source-run', sampleState());
    const file = path.join(dir, 'to-import.ckpt');
    await store.getToFile(saved.url, file);
    const imported = await importCheckpointFile(store, undefined, 'imported-run', await readFile(file), file);
    assert.equal(imported.url, saved.url.replace('source-run', 'imported-run'));
    assert.equal(imported.sha256, saved.sha256);
    const stat = await objects.stat(imported.key);
    assert.equal(stat?.metadata[SHA256_METADATA_KEY], saved.sha256);
    const tampered = Buffer.from(await readFile(file));
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    writeFileSync(path.join(dir, 'tampered.ckpt'), tampered);
    await assert.rejects(
      importCheckpointFile(store, undefined, 'tampered-run', tampered, 'tampered.ckpt'),
      /hash-mismatch/,
    );
    assert.deepEqual(await runs.list('tampered-run'), []);
  });
});
