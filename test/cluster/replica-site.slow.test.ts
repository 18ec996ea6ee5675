// The primary MinIO site lost for good mid-run: workers pointed at the replica site (bucket
// replication, src/stack/cluster-minio.ts) resume from the newest checkpoint that had replicated,
// and the run ends golden there. The task is gated-synthetic: from the held upload to the kill every
// step sleeps 100 ms, so the steps trained past the newest durable checkpoint are bounded by what the
// test saw just before the kill, not by how long replication took.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { clusterSpec, minioNode, startClusterRig } from '../helpers/cluster-stack';
import type { ClusterRig, RunningCluster } from '../helpers/cluster-stack';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import type { S3HoldProxy } from '../helpers/s3-hold-proxy';
import { goldenWeightsSha256, testEnv } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import type { WorkerFleet } from '../helpers/worker-fleet';
import { GATE_ENV, GATE_SLEEP_ENV } from '../helpers/gated-task';

const spec = clusterSpec(26, 'gated-synthetic');
let rig: ClusterRig;
let cluster: RunningCluster;
let proxy: S3HoldProxy;
let primaryFleet: WorkerFleet;
let replicaFleet: WorkerFleet;
const gate = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-replica-')), 'gate');
/**
 * Batches a gated step (500 ms while the gate is closed) may add between the progress the test last
 * saw and the kill: heartbeat details reach the server at most every 80 % of the 3 s heartbeat
 * timeout, so ≤ 10 s of lag.
 */
const HEARTBEAT_LAG_BATCHES = 20;
const gated = {
  DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
  [GATE_ENV]: gate,
  [GATE_SLEEP_ENV]: '500',
};

before(async () => {
  rig = await startClusterRig(`cluster-replica-${process.pid}`, { holdProxy: true });
  cluster = rig.cluster;
  proxy = rig.proxy as S3HoldProxy;
  fs.writeFileSync(gate, 'open');
  primaryFleet = rig.fleet(
    { ...testEnv(rig.workerStack), ...gated },
    'test-artifacts/cluster/replica-site/primary',
  );
  replicaFleet = rig.fleet(
    { ...testEnv(cluster.replicaStack), ...gated },
    'test-artifacts/cluster/replica-site/replica',
  );
  await primaryFleet.start();
});
after(() => rig?.stop());

test('the primary site stopped for good mid-run: workers on the replica resume from the newest replicated checkpoint, golden', async () => {
  const golden = goldenWeightsSha256({ ...spec, task: 'synthetic' });
  const handle = await rig.train('replica', spec);
  await waitForEpoch(handle, (p) => (p.details?.epoch ?? 0) === 1 && (p.details?.ckpt?.batch ?? 0) >= 80);
  // Hold the next checkpoint upload: no newer checkpoint becomes durable before the site is lost.
  fs.rmSync(gate); // and slow the steps (gate closed) until the kill
  const next = await proxy.hold((method, p) => method === 'PUT' && /\.ckpt(\?|$)/.test(p));
  const victim = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 1 && p.details?.ckpt !== undefined,
  );
  const newest = victim.details?.ckpt;
  assert.ok(newest);
  // Drive to the state under test: the replica has caught up with everything the primary holds.
  const replica = createMinioObjectClient(cluster.replicaStack.s3);
  const { key } = parseCheckpointUrl(newest.url);
  const deadline = Date.now() + 60_000;
  while (!(await replica.stat(key)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  assert.ok(await replica.stat(key), `${newest.url} reached the replica`);

  for (let node = 0; node < cluster.layout.minioDrives.length; node++) await cluster.kill(minioNode(node));
  // Seen after the site is gone (stopping four nodes takes seconds under load), right before the kill.
  const lastSeen = await waitForEpoch(
    handle,
    (p) => p.identity === victim.identity && p.details !== undefined,
  );
  await primaryFleet.kill(victim.identity, 'SIGKILL');
  next.release(); // its client is gone
  fs.writeFileSync(gate, 'open');
  await replicaFleet.start();

  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  const points = await resumePoints(handle, result);
  const crash = points.find((p) => p.recovery.atEpoch === 1);
  assert.ok(crash, JSON.stringify(result.recoveries));
  assertResumedFromNewest(crash, {
    newest,
    reached: victim.details?.batch,
    // Past the newest durable checkpoint: what the attempt had trained when last seen, plus its lag.
    interval: (lastSeen.details?.batch ?? 0) - newest.batch,
    slack: HEARTBEAT_LAG_BATCHES,
  });
  assert.equal(crash.recovery.site, cluster.replicaStack.s3.endpoint, 'the recovery names the replica site');
  // The final checkpoint exists only where the run finished: the replica site.
  const final = await new ObjectCheckpointIO(replica).load(result.finalCheckpoint.url);
  assert.equal(final.meta.weightsSha256, result.weightsSha256);
  const status = await cluster.status();
  assert.ok(
    status.minio.nodes.every((n) => !n.running),
    'the primary site stays down',
  );
});
