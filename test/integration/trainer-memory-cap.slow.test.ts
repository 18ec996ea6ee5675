// A worker started with a trainer memory limit (DFIT_TRAINER_MEMORY_LIMIT) runs its trainer child in
// a memory cgroup of its own (src/training/memory-cap.ts). A trainer that allocates past the limit
// mid-epoch, after checkpoints of that epoch were durable, is killed by the kernel; the run resumes
// from the newest checkpoint with a recovery reason that names the memory limit, the killed
// trainer's cgroup is removed, and the run ends with the weights of an uninterrupted run.
// `hog-synthetic` (test/helpers/memory-hog-task.ts) allocates once, when the test writes its file;
// batches are held at 100 ms while the gate file is missing, so the allocation lands mid-epoch.
// Skipped where no memory cgroup can be written (not root, no memory controller).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { MemoryCap } from '../../src/training/memory-cap';
import { GATE_ENV } from '../helpers/gated-task';
import { HOG_ENV } from '../helpers/memory-hog-task';
import { assertLedgerConsistent, assertResumedFromNewest, resumePoints } from '../helpers/resume-point';
import { goldenWeightsSha256, testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';

const LIMIT = 512 * 2 ** 20;
const unavailable = (() => {
  try {
    MemoryCap.prepare(LIMIT);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
})();

const taskQueue = `trainer-memory-cap-${process.pid}`;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-memory-cap-'));
const gate = path.join(dir, 'gate');
const hog = path.join(dir, 'hog');
const everyBatches = 8;
const spec: TrainingSpecInput = {
  task: 'hog-synthetic',
  epochs: 2,
  seed: 41,
  batchSize: 16,
  hparams: { samples: 1024, features: 16, hidden: 64 }, // 64 batches an epoch: 6.4 s while held
  checkpoint: { everyBatches, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 10, backoffSeconds: 0 },
};
let client: Client;
let close: () => Promise<void>;
let fleet: WorkerFleet;

before(async () => {
  ({ client, close } = await testClient());
  fleet = new WorkerFleet(
    {
      ...testEnv(),
      DFIT_TASK_MODULES: path.resolve('test/helpers/memory-hog-task.ts'),
      DFIT_TRAINER_MEMORY_LIMIT: String(LIMIT),
      [GATE_ENV]: gate,
      [HOG_ENV]: hog,
    },
    taskQueue,
    'test-artifacts/trainer-memory-cap',
  );
});
after(async () => {
  const pids = [...fleet.workers.values()].map((w) => w.child.pid);
  await fleet.stopAll();
  // A SIGKILLed worker leaves its trainer's cgroup; the next worker start removes it, or here once
  // the orphaned trainer has exited.
  if (!unavailable)
    await until(() => {
      const cap = MemoryCap.prepare(LIMIT);
      return !fs
        .readdirSync(cap.parent.dir)
        .some((n) => pids.some((p) => n.startsWith(`dfit-trainer-${p}-`)));
    }, "the workers' trainer cgroups are removed").catch(() => undefined);
  await close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Polls `check` (every 50 ms, up to 30 s) until it gives a truthy value. */
async function until<T>(check: () => T | undefined | false, what: string): Promise<T> {
  for (const deadline = Date.now() + 30_000; Date.now() < deadline;) {
    const value = check();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out: ${what}`);
}

/** The memory cgroup folder of a process (cgroup v1 or v2), from /proc. */
function cgroupOf(pid: number): string {
  const lines = fs.readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => /^\d+:([^:]*,)?memory(,[^:]*)?:/.test(l));
  return v1 ? (v1.split(':')[2] ?? '') : (lines.find((l) => l.startsWith('0::')) ?? '').slice(3);
}

test(
  'a trainer that allocates past its memory limit is killed, and the run resumes from its newest checkpoint',
  { skip: unavailable },
  async () => {
    const worker = await fleet.start();
    const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: `trainer-memory-cap-${Date.now()}`,
      args: [spec],
    });
    const golden = goldenWeightsSha256({ ...spec, task: 'synthetic' });
    const seen = await waitForEpoch(
      handle,
      (p) =>
        p.details?.epoch === 1 && p.details.ckpt?.epoch === 1 && p.details.ckpt.batch >= 2 * everyBatches,
    );
    const [trainer] = fleet.trainerPids(worker.identity);
    assert.ok(trainer, 'the worker runs a trainer child');
    const cgroup = cgroupOf(trainer);
    assert.match(
      cgroup,
      new RegExp(`/dfit-trainer-${worker.child.pid}-\\d+$`),
      'the trainer has its own cgroup',
    );
    const limitFile = [
      `/sys/fs/cgroup/memory${cgroup}/memory.limit_in_bytes`,
      `/sys/fs/cgroup${cgroup}/memory.max`,
    ]
      .concat(`/sys/fs/cgroup/unified${cgroup}/memory.max`)
      .find((f) => fs.existsSync(f));
    assert.ok(limitFile, `the cgroup ${cgroup} has a limit file`);
    assert.equal(Number(fs.readFileSync(limitFile, 'utf8')), LIMIT);

    fs.writeFileSync(hog, 'allocate'); // the trainer's next batch allocates past the limit
    await waitForEpoch(handle, (p) => p.activityType === 'resumeEpoch' && p.details !== undefined);
    // The resumed attempt reports before its new trainer has started: wait for both.
    await until(() => !fs.existsSync(path.dirname(limitFile)), "the killed trainer's cgroup is removed");
    const resumed = await until(
      () => fleet.trainerPids(worker.identity).find((pid) => pid !== trainer),
      'a new trainer resumes the run',
    );
    assert.notEqual(cgroupOf(resumed), cgroup, 'in a cgroup of its own');
    fs.writeFileSync(gate, 'open'); // the rest at full speed

    const result = await handle.result();
    assert.equal(result.status, 'completed');
    assert.equal(result.weightsSha256, await golden);
    assert.equal(result.recoveries.length, 1, JSON.stringify(result.recoveries));
    const [point] = await resumePoints(handle, result);
    assert.ok(point);
    assert.equal(point.recovery.kind, 'infrastructure');
    assert.match(point.recovery.reason, /TrainerCrashedError/);
    assert.match(point.recovery.reason, /killed by its memory limit of 512 MiB/);
    assertResumedFromNewest(point, {
      newest: seen.details?.ckpt,
      reached: seen.details?.batch,
      interval: everyBatches,
      slack: 2,
    });
    assertLedgerConsistent(result);
  },
);
