/**
 * The object store's refusals are mapped inside src/storage: a call refused for its credentials or
 * policy rejects with the port's `ObjectAccessDeniedError` (its S3 code kept), and the worker's
 * start-up check (activities/s3-errors.ts) turns that type, not a code, into `S3CredentialsError`.
 * Errors of minio-js's own class, as the adapter gets them; the real store: integration/s3-access-errors.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { S3Error } from 'minio';
import { assertS3Access, S3CredentialsError } from '../../activities/s3-errors';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { classifyError } from '../../src/failure-kind';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { ObjectAccessDeniedError, ObjectNotFoundError } from '../../src/storage/object-client';
import type { ObjectClient } from '../../src/storage/object-client';
import { withAccessErrors } from '../../src/storage/s3-error-codes';

function s3Error(code: string): S3Error {
  const err = new S3Error(`${code}: refused`);
  err.code = code;
  return err;
}

/** A bucket whose every call fails with `err`. */
function failing(err: unknown): ObjectClient {
  const base = createMemoryObjectClient('b');
  const reject = () => Promise.reject(err);
  return {
    ...base,
    bucketExists: reject,
    makeBucket: reject,
    put: reject,
    get: reject,
    getRange: reject,
    stat: reject,
    remove: reject,
    list: reject,
    listIncompleteUploads: reject,
    abortIncompleteUploads: reject,
  };
}

for (const code of ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken']) {
  test(`a store refusal (${code}) rejects every call with ObjectAccessDeniedError`, async () => {
    const objects = withAccessErrors(failing(s3Error(code)));
    const calls: [string, () => Promise<unknown>][] = [
      ['bucket check', () => objects.bucketExists()],
      ['PUT', () => objects.put('run/a.ckpt', Buffer.from('x'))],
      ['GET', () => objects.get('run/a.ckpt')],
      ['ranged GET', () => objects.getRange('run/a.ckpt', 0, 1)],
      ['HEAD', () => objects.stat('run/a.ckpt')],
      ['DELETE', () => objects.remove('run/a.ckpt')],
      ['LIST', () => objects.list('run/')],
      ['abort uploads', () => objects.abortIncompleteUploads('run/')],
    ];
    for (const [operation, call] of calls) {
      const err = await call().then(
        () => assert.fail(`${operation} succeeded`),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ObjectAccessDeniedError, `${operation}: ${String(err)}`);
      assert.equal(err.code, code);
      assert.equal(err.operation, operation);
      assert.equal(err.bucket, 'b');
      assert.ok(err.cause instanceof S3Error, 'the store error is kept as the cause');
      // As before the mapping (an S3 error declares nothing): retried, not a failed run.
      assert.equal(classifyError(err).kind, 'transient');
    }
  });
}

test('other errors pass through unchanged', async () => {
  for (const original of [s3Error('SlowDown'), new ObjectNotFoundError('k'), new Error('ECONNRESET')]) {
    const err = await withAccessErrors(failing(original))
      .list('run/')
      .catch((e: unknown) => e);
    assert.equal(err, original);
  }
  const ok = withAccessErrors(createMemoryObjectClient('b'));
  await ok.put('k', Buffer.from('v'));
  assert.deepEqual(
    (await ok.list('')).map((s) => s.key),
    ['k'],
  );
});

test("assertS3Access refuses the run on the store's typed refusal, by type", async () => {
  const refused = new ObjectRunFolder(withAccessErrors(failing(s3Error('SignatureDoesNotMatch'))));
  const err = await assertS3Access(refused, 'run').catch((e: unknown) => e);
  assert.ok(err instanceof S3CredentialsError, String(err));
  assert.equal(err.code, 'SignatureDoesNotMatch');
  assert.match(err.message, /DFIT_S3_ACCESS_KEY and DFIT_S3_SECRET_KEY/);
  assert.equal(classifyError(err).kind, 'permanent');

  // A bare S3 code no longer counts: only the port's type does.
  const unmapped = new ObjectRunFolder(failing(s3Error('AccessDenied')));
  const raw = await assertS3Access(unmapped, 'run').catch((e: unknown) => e);
  assert.ok(raw instanceof S3Error);

  const other = new ObjectRunFolder(withAccessErrors(failing(s3Error('SlowDown'))));
  assert.ok((await assertS3Access(other, 'run').catch((e: unknown) => e)) instanceof S3Error);
  await assertS3Access(new ObjectRunFolder(createMemoryObjectClient('b')), 'run');
});
