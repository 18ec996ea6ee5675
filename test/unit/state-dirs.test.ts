// The local stack's folders on disk are their owner's only (0700): what `stack up` writes (histories,
// checkpoints, logs, pid files), the servers it builds and the native TensorFlow cache. Folders we
// create get 0700; the state folder is tightened if it exists wider; a cache that exists keeps its mode.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { createCacheRoot } from '../../src/native/cache';
import { writePidFile } from '../../src/stack/pid-file';
import { createPrivateDir } from '../../src/stack/private-dir';
import { makePrivateDir } from '../../src/stack/tls';
import { ToolBuildError } from '../../src/stack/errors';
import { ensureTool } from '../../src/stack/tools';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-state-dirs-'));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const modeOf = (dir: string) => (fs.statSync(dir).mode & 0o777).toString(8);

// A wide umask must not widen what we create: 0700 is the mode asked for, umask only takes bits away.
const previousUmask = process.umask(0o002);
after(() => process.umask(previousUmask));

test('createPrivateDir makes every missing level 0700 and leaves an existing parent alone', () => {
  const shared = path.join(root, 'shared');
  fs.mkdirSync(shared, { mode: 0o755 });
  fs.chmodSync(shared, 0o755);
  const dir = path.join(shared, 'durable-fit', 'bin');
  createPrivateDir(dir);
  assert.equal(modeOf(path.join(shared, 'durable-fit')), '700');
  assert.equal(modeOf(dir), '700');
  assert.equal(modeOf(shared), '755', 'a folder we did not create keeps its mode');
});

test('the state folder is tightened to 0700 when it exists with a wider mode', () => {
  const state = path.join(root, 'state');
  fs.mkdirSync(state, { mode: 0o755 });
  fs.chmodSync(state, 0o755);
  makePrivateDir(state); // what `stack up` calls on DFIT_STATE_DIR and its logs and data folders
  assert.equal(modeOf(state), '700');
});

test('pid files go into a 0700 run folder', () => {
  const file = path.join(root, 'state2', 'run', 'temporal.json');
  writePidFile(file, { pid: 1, bin: '/bin/true', args: [], startedAt: new Date().toISOString() });
  assert.equal(modeOf(path.dirname(file)), '700');
  assert.equal(modeOf(path.join(root, 'state2')), '700');
});

test('the native build cache root is created 0700', () => {
  const cacheRoot = path.join(root, 'cache', 'durable-fit', 'tfjs-node');
  createCacheRoot(cacheRoot);
  assert.equal(modeOf(cacheRoot), '700');
  assert.equal(modeOf(path.join(root, 'cache')), '700');
});

test('the tools cache folder of a server build is created 0700, even when the build fails', async () => {
  const toolsDir = path.join(root, 'tools', 'bin');
  // GOPROXY=off: `go install` fails at once without touching the network; the folder is made first.
  const saved = process.env.GOPROXY;
  process.env.GOPROXY = 'off';
  try {
    const tool = { name: 'mc' as const, module: 'example.invalid/nothing', version: 'v0.0.1' };
    await assert.rejects(ensureTool(tool, { toolsDir, progress: () => undefined }), ToolBuildError);
  } finally {
    if (saved === undefined) delete process.env.GOPROXY;
    else process.env.GOPROXY = saved;
  }
  for (const dir of [
    path.join(root, 'tools'),
    toolsDir,
    path.join(toolsDir, 'mc'),
    path.join(toolsDir, 'mc', 'v0.0.1'),
  ])
    assert.equal(modeOf(dir), '700', dir);
});
