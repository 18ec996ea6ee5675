// The cluster topology (`stack up --topology cluster`): what `status --json` names, a run that ends
// golden and reaches the replica site, and Temporal's own faults: the history service restarted
// mid-epoch and PostgreSQL crashed (immediate shutdown) mid-run.
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { httpStatus } from '../../src/stack/ports';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { TrainingSpecInput } from '../../src/spec';
import { startCluster } from '../helpers/cluster-stack';
import type { RunningCluster } from '../helpers/cluster-stack';
import { assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';

/** Batches trained between a save falling due and its checkpoint being durable (as test/fault). */
const SAVE_LAG_BATCHES = 15;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 2,
  seed: 24,
  batchSize: 16,
  hparams: { samples: 8192, features: 32, hidden: 256 },
  checkpoint: { everyBatches: 40, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 3, backoffSeconds: 1 },
};
const taskQueue = `cluster-topology-${process.pid}`;
let cluster: RunningCluster;
let client: Client;
let close: () => Promise<void>;
let fleet: WorkerFleet;
let golden: Promise<string>;

before(async () => {
  cluster = await startCluster();
  ({ client, close } = await testClient(cluster.stack));
  fleet = new WorkerFleet(testEnv(cluster.stack), taskQueue, 'test-artifacts/cluster/topology');
  await Promise.all([fleet.start(), fleet.start()]);
  golden = goldenWeightsSha256(spec);
});
after(async () => {
  await fleet?.stopAll();
  await close?.();
  await cluster?.stop();
});

const start = (name: string) =>
  client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `${name}-${Date.now()}`,
    args: [spec],
  });

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

test('the Temporal history service killed mid-epoch and restarted: the run ends golden, resumed from the newest checkpoint', async () => {
  const handle = await start('history-restart');
  const seen = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 0 && (p.details?.batch ?? 0) >= 100,
  );
  await cluster.kill('temporal-history');
  await cluster.heal();
  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  for (const point of await resumePoints(handle, result))
    assertResumedFromNewest(point, {
      newest: seen.details?.ckpt,
      interval: spec.checkpoint?.everyBatches,
      slack: SAVE_LAG_BATCHES,
    });
});

test('PostgreSQL crashed mid-run (immediate shutdown) and restarted: the run ends golden, resumed from the newest checkpoint', async () => {
  const handle = await start('postgres-restart');
  const seen = await waitForEpoch(
    handle,
    (p) => (p.details?.epoch ?? 0) === 1 && (p.details?.batch ?? 0) >= 100,
  );
  await cluster.kill('postgres', 'SIGQUIT');
  await new Promise((r) => setTimeout(r, 5_000)); // Temporal's persistence calls fail meanwhile
  await cluster.heal();
  const result = await handle.result();
  assert.equal(result.weightsSha256, await golden);
  for (const point of await resumePoints(handle, result))
    assertResumedFromNewest(point, {
      newest: seen.details?.ckpt,
      interval: spec.checkpoint?.everyBatches,
      slack: SAVE_LAG_BATCHES,
    });
});
