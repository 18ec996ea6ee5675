// The real MinIO refusing a caller: the adapter's calls reject with the port's typed error
// (ObjectAccessDeniedError, the S3 code kept), and the worker's start-up check names the variables.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertS3Access, S3CredentialsError } from '../../activities/s3-errors';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { ObjectAccessDeniedError } from '../../src/storage/object-client';
import { testStack } from '../helpers/stack-env';

const cases = [
  { name: 'a wrong secret', patch: { secretKey: 'wrong-secret-123' }, code: 'SignatureDoesNotMatch' },
  { name: 'an unknown access key', patch: { accessKey: 'nobody-here' }, code: 'InvalidAccessKeyId' },
];

for (const c of cases) {
  test(`MinIO refusing ${c.name}: ObjectAccessDeniedError ${c.code}, then S3CredentialsError`, async () => {
    const objects = createMinioObjectClient({ ...testStack().s3, ...c.patch });
    const err = await objects.list('no-such-run/').catch((e: unknown) => e);
    assert.ok(err instanceof ObjectAccessDeniedError, String(err));
    assert.equal(err.code, c.code);
    assert.equal(err.operation, 'LIST');
    const put = await objects.put('no-such-run/x.bin', Buffer.from('x')).catch((e: unknown) => e);
    assert.ok(put instanceof ObjectAccessDeniedError, String(put));
    const check = await assertS3Access(new ObjectRunFolder(objects), 'no-such-run').catch((e: unknown) => e);
    assert.ok(check instanceof S3CredentialsError, String(check));
    assert.equal(check.code, c.code);
  });
}
