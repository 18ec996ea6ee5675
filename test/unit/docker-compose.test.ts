// No Docker engine runs on our machines, so this checks docker-compose.yml against the code's defaults.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULTS, OPTION_ENV } from '../../src/config/options';
import { splitHostPort } from '../../src/config/options';
import { SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';

interface Service {
  ports?: string[];
  environment?: Record<string, string>;
  command?: string[] | string;
}
const compose = parse(fs.readFileSync('docker-compose.yml', 'utf8')) as { services: Record<string, Service> };
const { services } = compose;

test('compose has Temporal, MinIO, bucket creation and a worker', () => {
  for (const name of ['temporal', 'minio', 'create-bucket', 'worker'])
    assert.ok(services[name], `service ${name}`);
});

test('published ports match the code defaults', () => {
  const temporalPort = splitHostPort(DEFAULTS.temporalAddress).port;
  assert.deepEqual(services.temporal?.ports, [
    `${temporalPort}:${temporalPort}`,
    `${DEFAULTS.temporalUiPort}:${DEFAULTS.temporalUiPort}`,
  ]);
  const s3Port = new URL(DEFAULTS.s3Endpoint).port;
  assert.deepEqual(services.minio?.ports, [
    `${s3Port}:${s3Port}`,
    `${DEFAULTS.s3ConsolePort}:${DEFAULTS.s3ConsolePort}`,
  ]);
});

test('the worker is configured through the documented environment variables', () => {
  const env = services.worker?.environment ?? {};
  const known = new Set(Object.values(OPTION_ENV));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is an option the code reads`);
  assert.equal(env[OPTION_ENV.taskQueue], DEFAULTS.taskQueue);
  assert.equal(env[OPTION_ENV.bucket], DEFAULTS.bucket);
  assert.equal(env[OPTION_ENV.s3AccessKey], DEFAULTS.s3AccessKey);
  assert.equal(env[OPTION_ENV.s3SecretKey], DEFAULTS.s3SecretKey);
  assert.equal(services.minio?.environment?.MINIO_ROOT_USER, DEFAULTS.s3AccessKey);
  assert.equal(services.minio?.environment?.MINIO_ROOT_PASSWORD, DEFAULTS.s3SecretKey);
});

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
