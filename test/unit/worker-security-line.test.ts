/**
 * The worker's start-up line says which protections are on (payload encryption, checkpoint signing,
 * S3 over TLS), so an operator sees a missing key when the worker starts; it never prints a key.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeSecurity } from '../../src/cli/worker-command';
import { resolveOptions } from '../../src/config/options';

const SIGNING = 'k1:0123456789abcdef0123456789abcdef0123456789';
const ENCRYPTION = 'k1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';

test('a worker with no keys and a plain endpoint says every protection is off', () => {
  const line = describeSecurity(resolveOptions({ DFIT_S3_ENDPOINT: 'http://127.0.0.1:9000' }));
  assert.equal(line, 'payload encryption off, checkpoint signing off, S3 TLS off');
});

test('keys and an https endpoint turn each on, and no secret appears in the line', () => {
  const line = describeSecurity(
    resolveOptions({
      DFIT_S3_ENDPOINT: 'https://minio.internal:9000',
      DFIT_CKPT_SIGNING_KEY: SIGNING,
      DFIT_ENCRYPTION_KEYS: ENCRYPTION,
    }),
  );
  assert.equal(line, 'payload encryption on, checkpoint signing on, S3 TLS on');
  assert.ok(!line.includes('0123456789abcdef') && !line.includes('AAECAwQF'));
});
