// `durable-fit stack up | status | down` as a user runs it, on its own ports and state folder.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { isAlive as alive } from '../../src/stack/pid-file';
import { freePorts, httpStatus } from '../../src/stack/ports';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { StackStatus } from '../../src/stack/stack';

const run = promisify(execFile);
const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-stack-cli-'));
let env: NodeJS.ProcessEnv = {};

async function cli(...args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/durable-fit.cjs', 'stack', ...args], {
      env,
    });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

after(async () => {
  await cli('down');
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('stack up, status, idempotent up, data kept across down/up, down stops everything', async () => {
  const [tPort, uiPort, s3Port, consolePort] = await freePorts(4);
  env = {
    ...process.env,
    DFIT_STATE_DIR: stateDir,
    TEMPORAL_ADDRESS: `127.0.0.1:${tPort}`,
    DFIT_TEMPORAL_UI_PORT: String(uiPort),
    DFIT_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
    DFIT_S3_CONSOLE_PORT: String(consolePort),
  };
  const up = await cli('up', '--json');
  assert.equal(up.code, 0, up.stderr);
  const status = JSON.parse(up.stdout) as StackStatus;
  for (const field of [
    'temporalAddress',
    'namespace',
    'uiUrl',
    's3Endpoint',
    'bucket',
    'temporalBin',
    'minioBin',
  ]) {
    assert.ok(field in status, field);
  }
  assert.equal(status.running, true);
  assert.equal(await httpStatus(status.uiUrl), 200, 'the Web UI answers');
  assert.equal(await httpStatus(`${status.s3Endpoint}/minio/health/live`), 200, 'MinIO is live');

  const again = await cli('up', '--json');
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /started/, 'a second up starts nothing');
  assert.deepEqual((JSON.parse(again.stdout) as StackStatus).servers, status.servers, 'same processes');

  const objects = createMinioObjectClient({
    endpoint: status.s3Endpoint,
    accessKey: 'durable-fit',
    secretKey: 'durable-fit-dev-secret',
    region: 'us-east-1',
    bucket: status.bucket,
  });
  await objects.put('keep/me.txt', Buffer.from('still here'));

  const down = await cli('down');
  assert.equal(down.code, 0, down.stderr);
  assert.equal(alive(status.servers.temporal.pid ?? -1), false, 'temporal stopped');
  assert.equal(alive(status.servers.minio.pid ?? -1), false, 'minio stopped');
  assert.equal((JSON.parse((await cli('status', '--json')).stdout) as StackStatus).running, false);

  assert.equal((await cli('up')).code, 0);
  assert.equal((await objects.stat('keep/me.txt'))?.size, 10, 'data survives down/up');
  assert.equal((await cli('down')).code, 0);
});

test('a stale pid file is cleaned and a taken port is named with the flag to change it', async () => {
  const runDir = path.join(stateDir, 'run');
  fs.mkdirSync(runDir, { recursive: true });
  const stale = {
    pid: 2 ** 22 - 1,
    bin: '/nonexistent/temporal',
    args: [],
    startedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(runDir, 'temporal.json'), JSON.stringify(stale));
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const taken = (blocker.address() as net.AddressInfo).port;
  try {
    const up = await cli('up', '--ui-port', String(taken));
    assert.equal(up.code, 1);
    assert.match(up.stderr, /stale pid file/);
    assert.match(
      up.stderr,
      new RegExp(`Port ${taken} \\(Temporal Web UI\\) is already in use.*--ui-port / DFIT_TEMPORAL_UI_PORT`),
    );
    assert.equal(fs.existsSync(path.join(runDir, 'temporal.json')), false);
  } finally {
    blocker.close();
  }
});
