// A SIGKILLed writer of a >64 MiB checkpoint leaves an incomplete multipart upload whose parts MinIO
// keeps (invisible, but on disk). Two ways they go, both on a real MinIO: the store aborts a run
// folder's incomplete uploads (what prepareRun does when a run or resume starts), and MinIO's
// stale-upload expiry, set by our stack (short here, on a MinIO of this test's own), deletes them.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { freePorts } from '../../src/stack/ports';
import type { MinioServerConfig } from '../../src/stack/servers';
import { failOnEarlyExit, minioArgs, minioEnv, spawnServer, waitMinioHealthy } from '../../src/stack/servers';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { testStack } from '../helpers/stack-env';

const MiB = 1024 * 1024;
const servers: ChildProcess[] = [];
after(() => {
  for (const s of servers) s.kill('SIGKILL');
});

/** Starts the upload child, waits until half of `size` bytes went out in parts, then SIGKILLs it. */
async function killMidUpload(connection: MinioConnection, key: string, size: number): Promise<void> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'test/helpers/slow-upload-child.ts', JSON.stringify(connection), key, String(size)],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = once(child, 'exit');
  let out = '';
  for await (const chunk of child.stdout) if ((out += String(chunk)).includes('half-sent')) break;
  child.kill('SIGKILL');
  await exited;
}

test('a killed >64 MiB upload: its parts stay until the run folder is cleaned, then they are gone', async () => {
  const connection = { ...testStack().s3, bucket: `leftovers-${process.pid}` };
  const objects = createMinioObjectClient(connection);
  if (!(await objects.bucketExists())) await objects.makeBucket();
  const runs = new ObjectRunFolder(objects);
  await killMidUpload(connection, 'run-a/epoch=0001-step=0000100.ckpt', 80 * MiB);
  await killMidUpload(connection, 'run-b/epoch=0001-step=0000100.ckpt', 80 * MiB);
  assert.deepEqual(await objects.listIncompleteUploads('run-a/'), ['run-a/epoch=0001-step=0000100.ckpt']);
  const visible = (await objects.list('run-a/')).filter((o) => o.key.endsWith('.ckpt'));
  assert.deepEqual(visible, [], 'never visible');
  assert.equal(await runs.abortIncompleteUploads('run-a'), 1);
  assert.deepEqual(await objects.listIncompleteUploads('run-a/'), [], 'parts gone');
  assert.deepEqual(await objects.list('run-a/'), [], 'and the upload journal with them');
  assert.equal((await objects.listIncompleteUploads('run-b/')).length, 1, 'another run folder untouched');
  await runs.abortIncompleteUploads('run-b');
});

test("MinIO's stale-upload expiry, as our stack sets it, deletes a killed upload's parts", async () => {
  const [port = 0, consolePort = 0] = await freePorts(2);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-stale-'));
  const config: MinioServerConfig = {
    bin: testStack().minioBin,
    host: '127.0.0.1',
    port,
    consolePort,
    dataDir: path.join(dir, 'data'),
    logFile: path.join(dir, 'minio.log'),
    accessKey: 'stale-test-ak',
    secretKey: 'stale-test-secret',
    staleUploadsExpiry: '2s',
    staleUploadsCleanupInterval: '1s',
  };
  const connection = {
    endpoint: `http://127.0.0.1:${port}`,
    accessKey: config.accessKey,
    secretKey: config.secretKey,
    region: testStack().s3.region,
    bucket: 'stale',
  };
  const server = spawnServer(config.bin, minioArgs(config), config.logFile, {
    env: minioEnv(config),
    detached: false,
  });
  servers.push(server);
  await Promise.race([
    waitMinioHealthy(config, connection),
    failOnEarlyExit(server, 'MinIO', config.logFile),
  ]);
  const objects = createMinioObjectClient(connection);
  await killMidUpload(connection, 'run/epoch=0001-step=0000100.ckpt', 80 * MiB);
  const seenAt = Date.now();
  let left = await objects.listIncompleteUploads('run/');
  assert.equal(left.length, 1, 'the killed upload is there at first');
  while (left.length > 0 && Date.now() - seenAt < 30_000) {
    await new Promise((r) => setTimeout(r, 500));
    left = await objects.listIncompleteUploads('run/');
  }
  assert.deepEqual(left, [], 'stale upload still there after 30 s');
});
