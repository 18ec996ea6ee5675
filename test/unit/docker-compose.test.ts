// No Docker engine runs on our machines, so this checks docker-compose.yml against the code's defaults
// and its safe shape: ports on loopback only, no secret in the file (it comes from the environment).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULTS, OPTION_ENV } from '../../src/config/options';
import { splitHostPort } from '../../src/config/options';
import { SEARCH_ATTRIBUTES } from '../../src/contract';

interface Service {
  ports?: string[];
  environment?: Record<string, string>;
  command?: string[] | string;
  entrypoint?: string[];
}
const text = fs.readFileSync('docker-compose.yml', 'utf8');
const compose = parse(text) as { services: Record<string, Service> };
const { services } = compose;

test('compose has Temporal, MinIO, bucket creation and a worker', () => {
  for (const name of ['temporal', 'minio', 'create-bucket', 'worker'])
    assert.ok(services[name], `service ${name}`);
});

test('ports match the code defaults and are published on 127.0.0.1 only', () => {
  const temporalPort = splitHostPort(DEFAULTS.temporalAddress).port;
  assert.deepEqual(services.temporal?.ports, [
    `127.0.0.1:${temporalPort}:${temporalPort}`,
    `127.0.0.1:${DEFAULTS.temporalUiPort}:${DEFAULTS.temporalUiPort}`,
  ]);
  const s3Port = new URL(DEFAULTS.s3Endpoint).port;
  assert.deepEqual(services.minio?.ports, [
    `127.0.0.1:${s3Port}:${s3Port}`,
    `127.0.0.1:${DEFAULTS.s3ConsolePort}:${DEFAULTS.s3ConsolePort}`,
  ]);
  for (const [name, service] of Object.entries(services)) {
    for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port}`);
  }
});

test('no secret is written in the file: compose refuses to start until DFIT_S3_SECRET_KEY is set', () => {
  assert.ok(!text.includes(DEFAULTS.s3SecretKey), 'the code default secret is not in the compose file');
  const env = services.worker?.environment ?? {};
  const minio = services.minio?.environment ?? {};
  const secretVar = OPTION_ENV.s3SecretKey;
  assert.throws(() => interpolate(minio.MINIO_ROOT_PASSWORD ?? '', {}), new RegExp(secretVar));
  assert.throws(() => interpolate(env[secretVar] ?? '', {}), new RegExp(secretVar));
  const shell = { [secretVar]: 'from-the-shell' };
  assert.equal(interpolate(minio.MINIO_ROOT_PASSWORD ?? '', shell), 'from-the-shell');
  assert.equal(interpolate(env[secretVar] ?? '', shell), 'from-the-shell', 'the worker gets the same secret');
  assert.equal(interpolate(minio.MINIO_ROOT_USER ?? '', {}), DEFAULTS.s3AccessKey);
  assert.equal(interpolate(env[OPTION_ENV.s3AccessKey] ?? '', {}), DEFAULTS.s3AccessKey);
  // The bucket job reads the credentials in its container's shell ($$), not from its command line.
  assert.deepEqual(services['create-bucket']?.environment, minio);
  assert.match(JSON.stringify(services['create-bucket']?.entrypoint), /\$\$MINIO_ROOT_PASSWORD/);
});

test('the worker is configured through the documented environment variables', () => {
  const env = services.worker?.environment ?? {};
  const known = new Set(Object.values(OPTION_ENV));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is an option the code reads`);
  assert.equal(env[OPTION_ENV.taskQueue], DEFAULTS.taskQueue);
  assert.equal(env[OPTION_ENV.bucket], DEFAULTS.bucket);
});

/** Compose's `${VAR:-default}` and `${VAR:?error}` interpolation, enough to check the file's shape. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const set = env[name];
    if (set) return set;
    if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

test('Temporal registers every search attribute the workflow uses, with a persistent database', () => {
  const command = services.temporal?.command as string[];
  for (const key of SEARCH_ATTRIBUTES)
    assert.ok(
      command.some((arg) => arg.startsWith(`${key.name}=`)),
      key.name,
    );
  assert.ok(command.includes('--db-filename'));
  assert.match(JSON.stringify(services['create-bucket']), new RegExp(`local/${DEFAULTS.bucket}`));
});
