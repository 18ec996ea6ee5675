// The cluster topology (`stack up --topology cluster`): what `status --json` names, a run that ends
// golden and reaches the replica site, and Temporal's own faults: the history service restarted
// mid-epoch and PostgreSQL crashed (immediate shutdown) mid-run.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { httpStatus } from '../../src/stack/ports';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { clusterSpec, startClusterRig } from '../helpers/cluster-stack';
import type { ClusterRig, RunningCluster } from '../helpers/cluster-stack';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { goldenWeightsSha256, testEnv } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import type { WorkerFleet } from '../helpers/worker-fleet';

/** Batches trained between a save falling due and its checkpoint being durable (as test/fault). */
const SAVE_LAG_BATCHES = 15;
const spec = clusterSpec(24);
let rig: ClusterRig;
let cluster: RunningCluster;
let fleet: WorkerFleet;
let golden: Promise<string>;

before(async () => {
  rig = await startClusterRig(`cluster-topology-${process.pid}`);
  cluster = rig.cluster;
  fleet = rig.fleet(testEnv(cluster.stack), 'test-artifacts/cluster/topology');
  await Promise.all([fleet.start(), fleet.start()]);
  golden = goldenWeightsSha256(spec);
});
after(() => rig?.stop());

const start = (name: string) => rig.train(name, spec);

test('status names the topology: PostgreSQL, four Temporal services, four MinIO nodes of two drives, a replica', async () => {
  const status = await cluster.status();
  assert.equal(status.running, true, JSON.stringify(status, null, 2));
  assert.equal(status.temporal.persistence.plugin, 'postgres12');
  assert.ok(status.temporal.persistence.pid);
  assert.deepEqual(Object.keys(status.temporal.services).sort(), [
    'frontend',
    'history',
    'matching',
    'worker',
  ]);
  const pids = Object.values(status.temporal.services).map((s) => s.pid);
  assert.equal(new Set(pids).size, 4, `four separate processes: ${pids.join(', ')}`);
  assert.equal(status.minio.nodes.length, 4);
  for (const node of status.minio.nodes) {
    assert.ok(node.pid && /^127\.0\.0\.1:\d+$/.test(node.address), JSON.stringify(node));
    assert.equal(node.drives.length, 2);
  }
  assert.equal(status.minio.drives.length, 8);
  assert.equal(await httpStatus(`${status.uiUrl}/`), 200, 'the Web UI answers');
  assert.ok(status.minio.replica.running);
});

test('a run on the cluster ends golden, and its checkpoints reach the replica site', async () => {
  const handle = await start('golden');
  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  const replica = new ObjectCheckpointIO(createMinioObjectClient(cluster.replicaStack.s3));
  // Replication is asynchronous: wait for the lag to drain, then read the final checkpoint there.
  const deadline = Date.now() + 60_000;
  let lag = (await cluster.status()).minio.replica.replication;
  while (('error' in lag || lag.pending > 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 500));
    lag = (await cluster.status()).minio.replica.replication;
  }
  assert.ok(!('error' in lag) && lag.pending === 0, `replication lag ${JSON.stringify(lag)}`);
  const final = await replica.load(result.finalCheckpoint.url); // verifies size and SHA-256
  assert.equal(final.meta.weightsSha256, result.weightsSha256);
});

/** Starts a run, stops a Temporal part at batch 100 of `epoch` and heals it: golden, resumed from the newest. */
async function restartedMidRun(name: string, epoch: number, fault: () => Promise<void>) {
  const handle = await start(name);
  const seen = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === epoch && (p.details?.batch ?? 0) >= 100,
  );
  await fault();
  await cluster.heal();
  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  for (const point of await resumePoints(handle, result))
    assertResumedFromNewest(point, {
      newest: seen.details?.ckpt,
      interval: spec.checkpoint?.everyBatches,
      slack: SAVE_LAG_BATCHES,
    });
}

test('the Temporal history service killed mid-epoch and restarted: the run ends golden, resumed from the newest checkpoint', () =>
  restartedMidRun('history-restart', 0, () => cluster.kill('temporal-history')));

test('PostgreSQL crashed mid-run (immediate shutdown) and restarted: the run ends golden, resumed from the newest checkpoint', () =>
  restartedMidRun('postgres-restart', 1, async () => {
    await cluster.kill('postgres', 'SIGQUIT');
    await new Promise((r) => setTimeout(r, 5_000)); // Temporal's persistence calls fail meanwhile
  }));
