// Smoke test on the real MinIO: put / stat / get / delete through the ObjectClient adapter.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buffer } from 'node:stream/consumers';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { testStack } from '../helpers/stack-env';

test('MinIO put / stat / get / delete round-trip', async () => {
  const objects = createMinioObjectClient(testStack().s3);
  assert.equal(await objects.bucketExists(), true, 'the harness created the bucket');
  const key = `smoke/${process.pid}-${Date.now()}.bin`;
  const body = Buffer.from('durable bytes');
  await objects.put(key, body, { metadata: { sha256: 'abc' }, size: body.length });
  const stat = await objects.stat(key);
  assert.equal(stat?.size, body.length);
  assert.equal(stat?.metadata.sha256, 'abc');
  assert.deepEqual(await buffer(await objects.get(key)), body);
  await objects.remove(key);
  assert.equal(await objects.stat(key), undefined);
});
