// Least privilege on a MinIO of this file's own: the users `stack up` makes with `mc` (src/stack/users.ts).
// The worker's user reads and writes objects in the checkpoint bucket (multipart included) but cannot
// create a bucket or read another one; the CLI's read-only user can list and read but not write or
// delete; a worker with no S3 credentials stops at start-up with a message naming the variables.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createStorage } from '../../src/checkpoint/create-store';
import { resolveOptions } from '../../src/config/options';
import type { DurableFitOptions } from '../../src/config/options';
import { readCredentialsFile } from '../../src/config/s3-credentials';
import { freePorts } from '../../src/stack/ports';
import type { MinioServerConfig } from '../../src/stack/servers';
import { failOnEarlyExit, minioArgs, minioEnv, spawnServer, waitMinioHealthy } from '../../src/stack/servers';
import { ensureTool } from '../../src/stack/tools';
import { ensureStackUsers } from '../../src/stack/users';
import { MINIO_CLIENT } from '../../src/stack/versions';
import { createMinioObjectClient, s3ErrorCode } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { sampleState } from '../helpers/checkpoint-fixtures';
import { testStack } from '../helpers/stack-env';

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-least-privilege-'));
const stateDir = path.join(dir, 'state');
const BUCKET = 'durable-fit';
const OTHER = 'someone-else';
let minio: MinioServerConfig;
let child: ChildProcess | undefined;
let root: MinioConnection;
let options: DurableFitOptions;

const as = (file: string, bucket = BUCKET) => {
  const { accessKey, secretKey } = readCredentialsFile(file);
  return createMinioObjectClient({ ...root, accessKey, secretKey, bucket });
};
const denied = (err: unknown) => {
  assert.equal(s3ErrorCode(err), 'AccessDenied', String(err));
  return true;
};

before(async () => {
  const [port, consolePort] = (await freePorts(2)) as [number, number];
  minio = {
    bin: testStack().minioBin,
    host: '127.0.0.1',
    port,
    consolePort,
    dataDir: path.join(dir, 'minio'),
    logFile: path.join(dir, 'minio.log'),
    accessKey: 'lp-root',
    secretKey: `lp-root-secret-${process.pid}`,
  };
  root = {
    endpoint: `http://127.0.0.1:${port}`,
    accessKey: minio.accessKey,
    secretKey: minio.secretKey,
    region: 'us-east-1',
    bucket: BUCKET,
  };
  child = spawnServer(minio.bin, minioArgs(minio), minio.logFile, { detached: false, env: minioEnv(minio) });
  await Promise.race([waitMinioHealthy(minio, root), failOnEarlyExit(child, 'MinIO', minio.logFile)]);
  const mcBin = await ensureTool(MINIO_CLIENT, { toolsDir: resolveOptions(process.env).toolsDir });
  await ensureStackUsers(
    { mcBin, endpoint: root.endpoint, rootUser: minio.accessKey, rootPassword: minio.secretKey },
    BUCKET,
    stateDir,
  );
  const other = createMinioObjectClient({ ...root, bucket: OTHER });
  await other.makeBucket();
  await other.put('secret.txt', Buffer.from('not for workers'));
  options = resolveOptions({ DFIT_STATE_DIR: stateDir }, { s3Endpoint: root.endpoint });
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the worker user saves, lists, loads and deletes checkpoints in its bucket (single PUT and multipart)', async () => {
  const { store, runs } = createStorage(options); // no S3 variables: the stack's worker.json
  const saved = await store.save('lp-run', sampleState());
  assert.deepEqual((await store.load(saved.url)).meta.cursor, sampleState().meta.cursor);
  assert.deepEqual(
    (await runs.list('lp-run')).map((c) => c.url),
    [saved.url],
  );
  const worker = createMinioObjectClient(
    { ...root, ...pick(readCredentialsFile(path.join(stateDir, 'credentials', 'worker.json'))) },
    { multipartThresholdBytes: 5 * 1024 * 1024, partSizeBytes: 5 * 1024 * 1024 },
  );
  await worker.put('lp-run/big.bin', Buffer.alloc(11 * 1024 * 1024, 7));
  assert.equal((await worker.stat('lp-run/big.bin'))?.size, 11 * 1024 * 1024);
  await store.remove(saved.url);
  await worker.remove('lp-run/big.bin');
  assert.deepEqual(await runs.list('lp-run'), []);
});

test('the worker user cannot create buckets or read another bucket', async () => {
  const worker = path.join(stateDir, 'credentials', 'worker.json');
  await assert.rejects(as(worker, 'new-bucket').makeBucket(), denied);
  await assert.rejects(as(worker, OTHER).get('secret.txt'), denied);
  await assert.rejects(as(worker, OTHER).list(''), denied);
  await assert.rejects(as(worker, OTHER).put('planted.txt', Buffer.from('x')), denied);
  // The root can, so the refusals above are the policy's, not a broken server.
  assert.equal((await createMinioObjectClient({ ...root, bucket: OTHER }).stat('secret.txt'))?.size, 15);
});

test('the read-only user lists and reads but cannot write or delete', async () => {
  const writer = createStorage(options).store;
  const saved = await writer.save('lp-readonly', sampleState());
  const { store: reader, runs: readerRuns } = createStorage(options, BUCKET, 'reader'); // the stack's reader.json
  assert.deepEqual((await reader.load(saved.url)).meta.cursor, sampleState().meta.cursor);
  assert.equal((await readerRuns.list('lp-readonly')).length, 1);
  const readerObjects = as(path.join(stateDir, 'credentials', 'reader.json'));
  await assert.rejects(readerObjects.put('lp-readonly/planted.txt', Buffer.from('x')), denied);
  await assert.rejects(reader.remove(saved.url), denied);
  const rootObjects = createMinioObjectClient(root);
  assert.equal(await rootObjects.stat('lp-readonly/planted.txt'), undefined, 'nothing was written');
  assert.ok(await rootObjects.stat(new URL(saved.url).pathname.slice(1)), 'nothing was deleted');
});

test('a worker without S3 credentials stops at start-up and names the variables', async () => {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) if (/^(DFIT_S3_|AWS_)/.test(name)) delete env[name];
  const empty = path.join(dir, 'empty-state');
  Object.assign(env, { DFIT_STATE_DIR: empty, TEMPORAL_ADDRESS: '127.0.0.1:1', DFIT_BACKEND: 'cpu' });
  const started = Date.now();
  const result = await run(process.execPath, ['bin/durable-fit.cjs', 'worker'], {
    env,
    timeout: 60_000,
  }).then(
    () => ({ code: 0, stderr: '' }),
    (err: { code: number; stderr: string }) => ({ code: err.code, stderr: err.stderr }),
  );
  assert.equal(result.code, 1, result.stderr);
  assert.match(result.stderr, /no S3 credentials for the worker/);
  assert.match(result.stderr, /DFIT_S3_ACCESS_KEY and DFIT_S3_SECRET_KEY/);
  assert.match(result.stderr, /DFIT_S3_CREDENTIALS_FILE/);
  assert.ok(result.stderr.includes(path.join(empty, 'credentials', 'worker.json')), 'names the stack file');
  assert.doesNotMatch(result.stderr, /127\.0\.0\.1:1|transport/i, 'it stopped before connecting to Temporal');
  assert.ok(Date.now() - started < 60_000);
});

function pick(credentials: { accessKey: string; secretKey: string }) {
  return { accessKey: credentials.accessKey, secretKey: credentials.secretKey };
}
