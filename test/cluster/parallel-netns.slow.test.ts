// A data-parallel run on the cluster topology whose workers sit on two "hosts" (network namespaces,
// test/helpers/netns.ts): the cluster listens on the root namespace's bridge address only, so the
// workers reach Temporal's frontend and MinIO's erasure set over the bridge. One worker of host A is
// SIGKILLed mid-round: its shard re-runs from its newest checkpoint and the final weights equal the
// plain-tfjs reference's.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainParallel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { startClusterRig } from '../helpers/cluster-stack';
import type { ClusterRig } from '../helpers/cluster-stack';
import { GATE_ENV } from '../helpers/gated-task';
import { createHostNetwork, netnsProblem } from '../helpers/netns';
import { shardInputs, waitForShard } from '../helpers/pending-shards';
import type { HostNetwork, NetHost } from '../helpers/netns';
import { testEnv } from '../helpers/training';
import type { WorkerFleet } from '../helpers/worker-fleet';
import { referenceWeightsSha256 } from '../integration/parallel-reference';

const CI = Boolean(process.env.CI);
const problem = netnsProblem();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-cluster-netns-'));
const gate = path.join(dir, 'gate'); // never opened: gated-synthetic sleeps 100 ms per step
const H = 60;
/** 96 samples, 3 shards of 32, batch 8: 4 shard steps per epoch; 45 epochs = 3 rounds of 60 steps. */
const spec: TrainingSpecInput = {
  task: 'gated-synthetic',
  epochs: 45,
  seed: 10,
  batchSize: 8,
  hparams: { samples: 96 },
  checkpoint: { everyBatches: 5, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 3, backoffSeconds: 0 },
  parallel: { shards: 3, syncEverySteps: H },
};

let net: HostNetwork | undefined;
let rig: ClusterRig | undefined;
let fleet: WorkerFleet | undefined;
let client: Client;
const onHostA: string[] = [];

before(async () => {
  if (problem) return;
  net = createHostNetwork(['host-a', 'host-b']);
  rig = await startClusterRig(`cluster-netns-${process.pid}`, { host: net.clientAddress });
  client = rig.client;
  const env = {
    ...testEnv(rig.cluster.stack),
    [GATE_ENV]: gate,
    DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
  };
  fleet = rig.fleet(env, 'test-artifacts/cluster/parallel-netns');
  const [hostA, hostB] = net.hosts as [NetHost, NetHost];
  const started = await Promise.all([
    fleet.start({ launcher: hostA.launcher }),
    fleet.start({ launcher: hostA.launcher }),
    fleet.start({ launcher: hostB.launcher }),
  ]);
  onHostA.push(started[0].identity, started[1].identity);
});
after(async () => {
  try {
    await rig?.stop();
  } finally {
    net?.remove();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'data-parallel workers on two network namespaces against the cluster: a host A worker SIGKILLed mid-round, its shard resumes from its newest checkpoint, reference weights',
  { skip: problem && !CI ? `network namespaces unavailable: ${problem}` : false },
  async () => {
    if (problem) throw new Error(`this test needs network namespaces: ${problem}`);
    const reference = referenceWeightsSha256({
      seed: 10,
      epochs: 45,
      batchSize: 8,
      samples: 96,
      shards: 3,
      syncEverySteps: H,
    });
    const handle = await client.workflow.start<TrainParallel>(TRAIN_MODEL, {
      taskQueue: (rig as ClusterRig).taskQueue,
      workflowId: `cluster-netns-${Date.now()}`,
      args: [spec],
    });
    // A host A worker trains a shard of round 0 or 1 past a checkpoint, mid-round.
    const victim = await waitForShard(
      handle,
      (d, identity) =>
        onHostA.includes(identity) &&
        d.round < 2 &&
        (d.ckpt?.batch ?? 0) > 0 &&
        d.ckpt?.epoch === d.round &&
        d.batch <= H / 2,
      'no host A shard was seen mid-round with a checkpoint',
      { started: true },
    );
    await (fleet as WorkerFleet).kill(victim.identity, 'SIGKILL');
    const restarted = (fleet as WorkerFleet).start({ launcher: (net as HostNetwork).hosts[0]?.launcher });
    const result = await handle.result();
    await restarted;
    assert.equal(result.status, 'completed');
    assert.equal(result.weightsSha256, await reference, 'bit-exact with the reference');
    const { round, shard, ckpt } = victim.details;
    const runs = (await shardInputs(handle)).filter((i) => i.round === round && i.shard === shard);
    assert.equal(runs.length, 2, `round ${round} shard ${shard} ran twice`);
    const rerun = runs[1];
    assert.equal(rerun?.reason, 'crash');
    assert.ok(ckpt && rerun?.resumeFrom, 'the killed shard had a checkpoint, and the re-run was handed one');
    assert.ok(
      rerun.resumeFrom.step >= ckpt.step,
      `resumed from step ${rerun.resumeFrom.step}, newest was ${ckpt.step}`,
    );
    assert.ok(
      victim.details.batch - rerun.resumeFrom.batch <= (spec.checkpoint?.everyBatches ?? 0) + 5,
      'redone steps within the interval',
    );
  },
);
