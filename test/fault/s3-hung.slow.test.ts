// A hung object store (MinIO SIGSTOPped: connections accepted, nothing answered) on servers of this
// file's own. Every S3 call has a deadline, so the attempt fails as an infrastructure failure while
// MinIO is still stopped, and the run completes once it continues.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { TrainingSpecInput } from '../../src/spec';
import type { Progress, RecoveryEvent, TrainModel } from '../../src/contract';
import type { RunningTestStack } from '../helpers/start-test-stack';
import { goldenWeightsSha256 } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import { startOwnStack } from '../helpers/fleet-rig';
import type { OwnStack } from '../helpers/fleet-rig';

const HEARTBEAT_TIMEOUT_S = 5;
const DEADLINE_S = 3; // the base deadline the worker gets; a checkpoint here is far below 1 MiB
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 2,
  seed: 23,
  batchSize: 16,
  hparams: { samples: 8192, features: 32, hidden: 256 },
  checkpoint: { everyBatches: 0, everySeconds: 1 },
  recovery: { heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S, backoffSeconds: 1 },
};
const taskQueue = `s3-hung-${process.pid}`;
let running: RunningTestStack;
let client: Client;
let own: OwnStack;
let golden: Promise<string>;

before(async () => {
  own = await startOwnStack({
    taskQueue,
    logDir: 'test-artifacts/s3-hung',
    env: { DFIT_S3_DEADLINE: `${DEADLINE_S}s`, DFIT_S3_DEADLINE_PER_MIB: '1s' },
  });
  ({ running, client } = own);
  golden = goldenWeightsSha256(spec);
});
after(async () => {
  running?.continueMinio();
  await own?.stop();
});

/** Polls the progress query until an infrastructure recovery is recorded; returns it. */
async function firstInfraRecovery(handle: WorkflowHandle, timeoutMs: number): Promise<RecoveryEvent> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const progress = await handle.query<Progress>('progress');
    const found = progress.recoveries.find((r) => r.kind === 'infrastructure');
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no infrastructure recovery within ${timeoutMs} ms of MinIO hanging`);
}

test('MinIO hung mid-epoch: an infrastructure recovery within heartbeat timeout + deadline, then golden', async () => {
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `s3-hung-${Date.now()}`,
    args: [spec],
  });
  const before = await waitForEpoch(
    handle,
    (p) => p.details?.epoch === 0 && (p.details.ckpt?.batch ?? 0) > 0,
  );
  const durable = before.details?.ckpt;
  assert.ok(durable);

  running.pauseMinio();
  const hungAt = Date.now();
  const bound = (HEARTBEAT_TIMEOUT_S + DEADLINE_S) * 1000;
  const recovery = await firstInfraRecovery(handle, bound + 30_000);
  const took = Date.now() - hungAt;
  running.continueMinio();

  assert.ok(took <= bound, `recovery ${took} ms after MinIO hung; bound ${bound} ms`);
  assert.match(recovery.reason, /S3DeadlineError/, recovery.reason);
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  assert.equal(result.weightsSha256, await golden);
  // Resumes from the newest durable checkpoint (at least the one heartbeated before the hang). Needs
  // the failure to carry that checkpoint to the workflow (issue 22: every attempt failure carries it).
  const fromStep = /step=(\d+)/.exec(recovery.fromCkpt)?.[1];
  assert.ok(
    Number(fromStep ?? -1) >= durable.step,
    `resumed from ${recovery.fromCkpt}, not ≥ ${durable.url}`,
  );
});
