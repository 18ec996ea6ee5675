/** The trainer memory cap's cgroup paths and files, on a fake cgroup folder (no kernel involved). */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import type { CgroupSystem } from '../../src/training/memory-cap';
import { findCgroupParent, MemoryCap, MemoryCapUnavailableError } from '../../src/training/memory-cap';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })));

/** A fake /sys/fs/cgroup with these files (relative path → content). */
function fakeRoot(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-cgroup-'));
  dirs.push(root);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    fs.writeFileSync(path.join(root, file), content);
  }
  return root;
}

const system = (root: string, selfCgroup: string, alive: number[] = []): CgroupSystem => ({
  root,
  selfCgroup,
  pid: 4242,
  isAlive: (pid) => alive.includes(pid),
});

// This machine's layout: v1 controllers, a unified hierarchy without memory (hybrid).
const HYBRID = '9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu:/\n0::/\n';
const V2 = '0::/user.slice/worker.scope\n';

test('hybrid layout: the v1 memory hierarchy at the worker cgroup', () => {
  const root = fakeRoot({
    'unified/cgroup.controllers': 'hugetlb',
    'memory/process_api/abc/memory.limit_in_bytes': '9223372036854771712',
  });
  assert.deepEqual(findCgroupParent({ root, selfCgroup: HYBRID }), {
    version: 1,
    dir: path.join(root, 'memory/process_api/abc'),
  });
});

test('pure v2 with the memory controller wins over v1; v1 lines with several controllers are read', () => {
  const root = fakeRoot({
    'cgroup.controllers': 'cpuset cpu io memory pids',
    'user.slice/worker.scope/x': '',
  });
  assert.deepEqual(findCgroupParent({ root, selfCgroup: V2 }), {
    version: 2,
    dir: path.join(root, 'user.slice/worker.scope'),
  });
  const v1 = fakeRoot({ 'memory/a/memory.limit_in_bytes': '1' });
  const parent = findCgroupParent({ root: v1, selfCgroup: '5:cpu,memory:/a\n' });
  assert.deepEqual(parent, { version: 1, dir: path.join(v1, 'memory/a') });
});

test('no memory controller anywhere: a reason, and prepare refuses with a clear error', () => {
  const root = fakeRoot({ 'cgroup.controllers': 'cpu io' });
  const reason = findCgroupParent({ root, selfCgroup: V2 });
  assert.equal(typeof reason, 'string');
  assert.match(String(reason), /memory controller/);
  assert.throws(
    () => MemoryCap.prepare(2 ** 30, system(root, V2)),
    (err: unknown) =>
      err instanceof MemoryCapUnavailableError &&
      /1 GiB/.test(err.message) &&
      /DFIT_TRAINER_MEMORY_LIMIT/.test(err.message) &&
      /leave the limit unset/.test(err.message),
  );
  assert.throws(() => MemoryCap.prepare(2 ** 30, system(root, '')), /in no cgroup/);
});

test('v1: a cgroup per trainer with the limit, the pid moved in, OOM kills read, removed after', async () => {
  const root = fakeRoot({
    'unified/cgroup.controllers': '',
    'memory/process_api/abc/memory.limit_in_bytes': '9223372036854771712',
  });
  const cap = MemoryCap.prepare(2 ** 30, system(root, HYBRID));
  const parent = path.join(root, 'memory/process_api/abc');
  assert.deepEqual(
    fs.readdirSync(parent).filter((n) => n.startsWith('dfit-')),
    [],
    'the probe is removed',
  );
  const cgroup = cap.create();
  assert.equal(cgroup.dir, path.join(parent, 'dfit-trainer-4242-1'));
  assert.equal(fs.readFileSync(path.join(cgroup.dir, 'memory.limit_in_bytes'), 'utf8'), String(2 ** 30));
  cgroup.add(777);
  assert.equal(fs.readFileSync(path.join(cgroup.dir, 'cgroup.procs'), 'utf8'), '777');
  // What the kernel writes after an OOM kill in the cgroup.
  fs.writeFileSync(
    path.join(cgroup.dir, 'memory.oom_control'),
    'oom_kill_disable 0\nunder_oom 0\noom_kill 1\n',
  );
  fs.writeFileSync(path.join(cgroup.dir, 'memory.failcnt'), '128\n');
  fs.writeFileSync(path.join(cgroup.dir, 'memory.max_usage_in_bytes'), '1073741824\n');
  assert.deepEqual(cgroup.usage(), { peakBytes: 2 ** 30, oomKills: 1, limitHits: 128 });
  assert.match(
    cgroup.killedByLimit() ?? '',
    /killed by its memory limit of 1 GiB \(the kernel's OOM killer, 1 kill\(s\) in cgroup .*dfit-trainer-4242-1\)/,
  );
  await cgroup.remove();
  assert.equal(fs.existsSync(cgroup.dir), false);
  assert.equal(cgroup.killedByLimit(), undefined, 'no cgroup: no claim');
  assert.equal(cap.create().dir, path.join(parent, 'dfit-trainer-4242-2'), 'each trainer its own');
});

test('v1: a child that exited without an OOM kill was not killed by the limit', () => {
  const root = fakeRoot({ 'memory/a/memory.limit_in_bytes': '1' });
  const cgroup = MemoryCap.prepare(500e6, system(root, '4:memory:/a\n')).create();
  fs.writeFileSync(
    path.join(cgroup.dir, 'memory.oom_control'),
    'oom_kill_disable 0\nunder_oom 0\noom_kill 0\n',
  );
  fs.writeFileSync(path.join(cgroup.dir, 'memory.failcnt'), '3\n');
  assert.equal(cgroup.killedByLimit(), undefined);
});

test('v2: the memory controller is delegated to children, memory.max set, memory.events read', () => {
  const root = fakeRoot({
    'cgroup.controllers': 'cpu memory',
    'user.slice/worker.scope/cgroup.subtree_control': '',
  });
  const cap = MemoryCap.prepare(256 * 2 ** 20, system(root, V2));
  const parent = path.join(root, 'user.slice/worker.scope');
  assert.equal(fs.readFileSync(path.join(parent, 'cgroup.subtree_control'), 'utf8'), '+memory');
  const cgroup = cap.create();
  assert.equal(fs.readFileSync(path.join(cgroup.dir, 'memory.max'), 'utf8'), String(256 * 2 ** 20));
  fs.writeFileSync(path.join(cgroup.dir, 'memory.events'), 'low 0\nhigh 0\nmax 40\noom 1\noom_kill 1\n');
  fs.writeFileSync(path.join(cgroup.dir, 'memory.peak'), '268435456\n');
  assert.deepEqual(cgroup.usage(), { peakBytes: 268435456, oomKills: 1, limitHits: 40 });
  assert.match(cgroup.killedByLimit() ?? '', /memory limit of 256 MiB/);
});

test('a parent cgroup that cannot take children is refused at prepare', () => {
  // The v2 hierarchy has memory, but the worker's cgroup folder does not exist (cannot be written).
  const root = fakeRoot({ 'cgroup.controllers': 'memory' });
  assert.throws(
    () => MemoryCap.prepare(2 ** 30, system(root, V2)),
    (err: unknown) => err instanceof MemoryCapUnavailableError && /not writable/.test(err.message),
  );
});

test("leftover trainer cgroups of dead workers are removed; a live worker's are kept", () => {
  const root = fakeRoot({
    'memory/a/memory.limit_in_bytes': '1',
    'memory/a/dfit-trainer-99999-1/memory.limit_in_bytes': '1',
    'memory/a/dfit-trainer-555-3/memory.limit_in_bytes': '1',
    'memory/a/other-cgroup/memory.limit_in_bytes': '1',
  });
  MemoryCap.prepare(2 ** 30, system(root, '4:memory:/a\n', [555]));
  assert.deepEqual(fs.readdirSync(path.join(root, 'memory/a')).sort(), [
    'dfit-trainer-555-3',
    'memory.limit_in_bytes',
    'other-cgroup',
  ]);
});
