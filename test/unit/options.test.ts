import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { DEFAULTS, redactOptions, resolveOptions } from '../../src/config/options';
import { temporalConnectConfig } from '../../src/config/temporal';

test('defaults apply when nothing is set', () => {
  const o = resolveOptions({ HOME: '/home/u' });
  assert.equal(o.temporalAddress, '127.0.0.1:7233');
  assert.equal(o.uiUrl, 'http://127.0.0.1:8233');
  assert.equal(o.s3Endpoint, 'http://127.0.0.1:9000');
  assert.equal(o.bucket, 'durable-fit');
  assert.equal(o.taskQueue, 'durable-fit');
  assert.equal(o.stateDir, '/home/u/.local/share/durable-fit');
  assert.equal(o.toolsDir, '/home/u/.cache/durable-fit/bin');
});

test('environment overrides defaults, flags override environment', () => {
  const env = { TEMPORAL_ADDRESS: 'temporal:7233', DFIT_S3_BUCKET: 'b', DFIT_TEMPORAL_UI_PORT: '9999' };
  const o = resolveOptions(env, { bucket: 'flag-bucket' });
  assert.equal(o.temporalAddress, 'temporal:7233');
  assert.equal(o.bucket, 'flag-bucket');
  assert.equal(o.uiUrl, 'http://127.0.0.1:9999');
  assert.equal(resolveOptions({}, { temporalUiPort: 1234 }).uiUrl, 'http://127.0.0.1:1234');
});

test('AWS credential variables are accepted; the secret is redacted for printing', () => {
  const o = resolveOptions({ AWS_ACCESS_KEY_ID: 'ak', AWS_SECRET_ACCESS_KEY: 'sk' });
  assert.equal(o.s3AccessKey, 'ak');
  assert.equal(redactOptions(o).s3SecretKey, '***');
  // No client default: the dev key is the local stack's root, which workers never get.
  assert.equal(resolveOptions({}).s3SecretKey, '');
  assert.equal(resolveOptions({}).s3RootPassword, DEFAULTS.s3SecretKey);
  assert.equal(redactOptions(resolveOptions({})).s3RootPassword, '***');
});

test('a bad port says which variable to fix', () => {
  assert.throws(
    () => resolveOptions({ DFIT_TEMPORAL_UI_PORT: 'x' }),
    /DFIT_TEMPORAL_UI_PORT="x" is not a port/,
  );
});

test('Temporal connection follows envconfig: API key and TLS from the environment', () => {
  const env = {
    TEMPORAL_ADDRESS: 'ns.tmprl.cloud:7233',
    TEMPORAL_NAMESPACE: 'ns',
    TEMPORAL_API_KEY: 'key',
    HOME: '/nonexistent',
  };
  const config = temporalConnectConfig(resolveOptions(env), env);
  assert.equal(config.connectionOptions.address, 'ns.tmprl.cloud:7233');
  assert.equal(config.namespace, 'ns');
  assert.equal(config.connectionOptions.apiKey, 'key');
  assert.ok(config.connectionOptions.tls, 'an API key turns TLS on');
});

test('a profile file supplies the address when no flag or variable does', () => {
  const toml = '[profile.default]\naddress = "profile-host:7233"\nnamespace = "prof"\n';
  const file = path.join(os.tmpdir(), `dfit-profile-${process.pid}.toml`);
  fs.writeFileSync(file, toml);
  const env = { TEMPORAL_CONFIG_FILE: file, HOME: '/nonexistent' };
  const config = temporalConnectConfig(resolveOptions(env), env);
  assert.equal(config.connectionOptions.address, 'profile-host:7233');
  assert.equal(config.namespace, 'prof');
  fs.rmSync(file);
});

test('the trainer hang timeout takes Temporal-style durations or milliseconds', () => {
  assert.equal(resolveOptions({}).trainerHangTimeoutMs, 60_000);
  assert.equal(resolveOptions({ DFIT_TRAINER_HANG_TIMEOUT: '90s' }).trainerHangTimeoutMs, 90_000);
  assert.equal(resolveOptions({ DFIT_TRAINER_HANG_TIMEOUT: '2m' }).trainerHangTimeoutMs, 120_000);
  assert.equal(resolveOptions({ DFIT_TRAINER_HANG_TIMEOUT: '1500' }).trainerHangTimeoutMs, 1500);
  for (const bad of ['soon', '0', '-5s'])
    assert.throws(
      () => resolveOptions({ DFIT_TRAINER_HANG_TIMEOUT: bad }),
      /DFIT_TRAINER_HANG_TIMEOUT=".*" is not a duration/,
    );
});
