// The MinIO erasure set under node and drive faults (4 nodes × 2 drives, EC 4+4: writes need 5
// drives, reads 4): a node killed while a checkpoint upload is in flight, another killed while a
// resumed attempt loads its checkpoint, and a drive wiped under a running training and healed.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { clusterSpec, minioNode, startClusterRig } from '../helpers/cluster-stack';
import type { ClusterRig, RunningCluster } from '../helpers/cluster-stack';
import { GATE_ENV, GATE_SLEEP_ENV } from '../helpers/gated-task';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import type { S3HoldProxy } from '../helpers/s3-hold-proxy';
import { goldenWeightsSha256, testEnv } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import type { WorkerFleet } from '../helpers/worker-fleet';

/**
 * Batches trained while a checkpoint upload is in flight (a save due meanwhile is skipped). From
 * the second epoch's first progress to the kill the steps are slowed (gate closed: 100 ms each), so 15
 * batches are 1.5 s of upload; at full speed a slow upload under load made it 58 > 40 + 15 once.
 */
const SAVE_LAG_BATCHES = 15;
const spec = clusterSpec(25, 'gated-synthetic');
const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-minio-nodes-')), 'gate');
let rig: ClusterRig;
let cluster: RunningCluster;
let proxy: S3HoldProxy;
let fleet: WorkerFleet;
let golden: Promise<string>;

before(async () => {
  // Workers reach node 1 through a proxy that can hold one request: the test then knows an upload
  // (or a load) is in flight while it kills another node.
  rig = await startClusterRig(`cluster-minio-${process.pid}`, { holdProxy: true });
  cluster = rig.cluster;
  proxy = rig.proxy as S3HoldProxy;
  fs.writeFileSync(gate, 'open');
  const gated = {
    DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
    [GATE_ENV]: gate,
    [GATE_SLEEP_ENV]: '100',
  };
  fleet = rig.fleet({ ...testEnv(rig.workerStack), ...gated }, 'test-artifacts/cluster/minio-nodes');
  await Promise.all([fleet.start(), fleet.start()]);
  golden = goldenWeightsSha256({ ...spec, task: 'synthetic' });
});
after(() => rig?.stop());

const start = (name: string) => rig.train(name, spec);

const isCheckpoint = (p: string) => /\.ckpt(\?|$)/.test(p);

test('a node killed mid-upload and another mid-load: the run ends golden, resumed from the newest checkpoint', async () => {
  const handle = await start('nodes');
  await waitForEpoch(handle, (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.batch ?? 0) >= 60);
  const upload = await proxy.hold((method, p) => method === 'PUT' && isCheckpoint(p));
  await cluster.kill(minioNode(1)); // node 2 of 4: 6 drives left, above the write quorum
  upload.release();
  const saved = proxy.requests.find((r) => r.path === upload.path && r.held);
  // The held upload and the saves after it land on the six drives left.
  const after1 = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.ckpt?.batch ?? 0) >= 160,
  );
  assert.ok(saved?.status === 200, `the upload in flight when node 2 died was answered ${saved?.status}`);
  assert.ok(after1.details?.ckpt);
  await cluster.heal(); // node 2 back: 8 drives again, so node 3 may go next
  // Epoch 1's steps are slow until the kill: the steps redone then measure the checkpoint interval.
  await waitForEpoch(handle, (p) => (p.details?.epoch ?? 0) === 1);
  fs.rmSync(gate);

  const victim = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 1 && (p.details?.ckpt?.batch ?? 0) >= 80,
  );
  const load = proxy.hold((method, p) => method === 'GET' && isCheckpoint(p));
  await fleet.kill(victim.identity, 'SIGKILL');
  fs.writeFileSync(gate, 'open');
  const replacement = fleet.start();
  const held = await load; // the resumed attempt is loading its checkpoint
  await cluster.kill(minioNode(2)); // node 3 of 4: 6 drives left, reads need 4
  held.release();
  const result = await handle.result();
  await replacement;
  assert.equal(result.weightsSha256, await golden);
  const points = await resumePoints(handle, result);
  assert.ok(points.length >= 1, 'the killed worker was recovered from');
  const crash = points.find((p) => p.recovery.atEpoch === 1);
  assert.ok(crash, JSON.stringify(result.recoveries));
  assertResumedFromNewest(crash, {
    newest: victim.details?.ckpt,
    reached: victim.details?.batch,
    interval: spec.checkpoint?.everyBatches,
    slack: SAVE_LAG_BATCHES,
  });
  await cluster.heal();
});

test('a drive wiped under a running training: the run ends golden and the drive is healed', async () => {
  const handle = await start('wipe');
  await waitForEpoch(handle, (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.ckpt?.batch ?? 0) >= 80);
  const drive = cluster.layout.minioDrives[3]?.[0] as string; // node 4, drive 1
  for (const entry of fs.readdirSync(drive))
    fs.rmSync(path.join(drive, entry), { recursive: true, force: true });
  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  // MinIO formats the wiped drive again on its own; the heal puts the bucket's objects back on it.
  const { key } = parseCheckpointUrl(result.finalCheckpoint.url);
  const onDrive = path.join(drive, cluster.options.bucket, key, 'xl.meta');
  const deadline = Date.now() + 120_000;
  while (!fs.existsSync(onDrive) && Date.now() < deadline) {
    if (fs.existsSync(path.join(drive, '.minio.sys', 'format.json')))
      await cluster.healBucket().catch(() => '');
    await new Promise((r) => setTimeout(r, 2000));
  }
  assert.ok(
    fs.existsSync(path.join(drive, '.minio.sys', 'format.json')),
    'the wiped drive was formatted again',
  );
  assert.ok(fs.existsSync(onDrive), `the final checkpoint is back on the wiped drive (${onDrive})`);
});
