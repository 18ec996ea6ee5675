/**
 * Liveness of the trainer child: large states leave it through a file without holding up progress,
 * and a trainer that stops working (SIGSTOP) while it has a job is killed by the watchdog, while an
 * idle one is left alone.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { TrainingState } from '../../src/state';
import { TrainerHungError } from '../../src/training/errors';
import { createTransferDir, packState, unpackState } from '../../src/training/state-transfer';
import { TrainerProcess } from '../../src/training/trainer-process';
import { readProcessCpu, watchTrainer } from '../../src/training/trainer-watchdog';
import { spawn } from 'node:child_process';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function stateOf(bytes: number[]): TrainingState {
  const tensors = bytes.map((n, i) => ({
    name: `model/t${i}`,
    dtype: 'U8' as const,
    shape: [n],
    data: Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) % 251),
  }));
  return { tensors, meta: { cursor: { epoch: 0, batch: 3, step: 3, batchesPerEpoch: 9 } } as never };
}

test('a large state travels through a file and comes back byte for byte; the file is removed', async () => {
  const dir = createTransferDir(os.tmpdir());
  try {
    const state = stateOf([3, 2_000_000, 17, 700_001]);
    const packed = packState(state, dir);
    assert.equal(packed.kind, 'file');
    const back = await unpackState(structuredClone(packed));
    assert.deepEqual(
      back.tensors.map((t) => Buffer.from(t.data).toString('hex')),
      state.tensors.map((t) => Buffer.from(t.data).toString('hex')),
    );
    assert.deepEqual(back.meta, state.meta);
    assert.deepEqual(fs.readdirSync(dir), []);
    assert.equal(packState(stateOf([10, 20]), dir).kind, 'inline');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const longRun = {
  config: { task: 'synthetic', hparams: {}, seed: 1, batchSize: 16, epochs: 100_000 },
  progressIntervalMs: 50,
};

test('a trainer SIGSTOPped during a job is killed within the hang timeout and reported as hung', async () => {
  const transferBase = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-liveness-'));
  const trainer = await TrainerProcess.start({
    backend: 'cpu',
    hangTimeoutMs: 2000,
    transferBase,
    onStderr: () => {},
  });
  const pid = trainer.pid as number;
  let progressed!: () => void;
  const firstProgress = new Promise<void>((r) => (progressed = r));
  const run = trainer.run(longRun, { onProgress: () => progressed() });
  await firstProgress;
  process.kill(pid, 'SIGSTOP');
  const stoppedAt = Date.now();
  await assert.rejects(run.result, (e: unknown) => {
    assert.ok(e instanceof TrainerHungError, String(e));
    assert.match(e.message, /process state T: stopped/);
    return true;
  });
  const took = Date.now() - stoppedAt;
  assert.ok(took >= 1900 && took < 5000, `killed after ${took} ms (limit 2000 ms + 1 s watchdog tick)`);
  assert.equal(trainer.alive, false);
  assert.equal(readProcessCpu(pid), undefined, 'the hung process is gone');
  assert.deepEqual(fs.readdirSync(transferBase), [], 'its transfer folder is removed');
  fs.rmSync(transferBase, { recursive: true, force: true });
});

test('an idle trainer is never killed, however long it waits for work', async () => {
  const trainer = await TrainerProcess.start({ backend: 'cpu', hangTimeoutMs: 1000, onStderr: () => {} });
  const pid = trainer.pid as number;
  process.kill(pid, 'SIGSTOP');
  await sleep(2500);
  assert.equal(trainer.alive, true);
  process.kill(pid, 'SIGCONT');
  const outcome = await trainer.run({ ...longRun, config: { ...longRun.config, epochs: 1 } }).result;
  assert.equal(outcome.stopped, false);
  await trainer.close();
});

test('the hang clock starts when the watchdog first sees a job, not at its last idle look', async () => {
  // A sleeping process uses no CPU, like a SIGSTOPped one. The job arrives between two looks; the
  // first look that sees it must not count the idle time before it (the watchdog fired at once).
  const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
  const looks: boolean[] = [];
  let firedAfterBusyLooks = -1;
  const done = new Promise<void>((resolve) => {
    const dog = watchTrainer({
      pid: sleeper.pid as number,
      hangTimeoutMs: 100,
      intervalMs: 100,
      isBusy: () => {
        looks.push(looks.length >= 3);
        return looks.length > 3;
      },
      onHung: () => {
        firedAfterBusyLooks = looks.filter(Boolean).length;
        dog.stop();
        resolve();
      },
    });
  });
  await done;
  sleeper.kill('SIGKILL');
  assert.ok(firedAfterBusyLooks >= 2, `fired at busy look ${firedAfterBusyLooks}: the idle time counted`);
});
