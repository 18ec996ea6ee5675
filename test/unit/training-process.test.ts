/** The trainer child process: progress, snapshots, cooperative stop, errors and crashes. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { TrainerCrashedError, TrainerRemoteError } from '../../src/training/errors';
import type { BatchProgress } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { TrainerProcess } from '../../src/training/trainer-process';

const config: RunConfig = { task: 'synthetic', hparams: { dropout: 0.3 }, seed: 1, batchSize: 16, epochs: 3 };

describe('TrainerProcess', () => {
  let trainer: TrainerProcess;
  before(async () => {
    trainer = await TrainerProcess.start({ backend: 'cpu', onStderr: () => undefined });
  });
  after(async () => {
    await trainer.close();
  });

  test('reports per-batch progress and epoch ends with complete states', async () => {
    const progress: BatchProgress[] = [];
    const hashes: string[] = [];
    const run = trainer.run(
      { config },
      { onProgress: (p) => progress.push(p), onEpochEnd: (e) => hashes.push(e.state.meta.weightsSha256) },
    );
    const outcome = await run.result;
    assert.equal(progress.length, 18);
    assert.deepEqual(progress[0], {
      epoch: 0,
      batch: 0,
      batches: 6,
      step: 1,
      loss: progress[0]!.loss,
      trainedAt: progress[0]!.trainedAt,
    });
    assert.equal(hashes.length, 3);
    assert.equal(outcome.stopped, false);
    assert.equal(outcome.state.meta.weightsSha256, hashes[2]);
    assert.equal(outcome.state.meta.metrics.length, 3);
    assert.equal(trainer.backend.name, 'cpu');
  });

  test('snapshot and stop at a batch boundary; the stopped state resumes exactly', async () => {
    const long = { ...config, epochs: 400 };
    const reference = await trainer.run({ config: long, untilEpoch: 150 }).result;
    const run = trainer.run({ config: long, untilEpoch: 150 });
    const snapshot = await run.snapshot();
    assert.ok(snapshot.meta.weightsSha256.length === 64);
    const stopped = await run.stop();
    assert.equal(stopped.stopped, true);
    const { epoch } = stopped.state.meta.cursor;
    assert.ok(epoch < 150, `stopped at epoch ${epoch}`);
    const bytes = encodeCheckpoint(stopped.state);
    const resumed = await trainer.run({ config: long, untilEpoch: 150, from: decodeCheckpoint(bytes) })
      .result;
    assert.equal(resumed.state.meta.weightsSha256, reference.state.meta.weightsSha256);
    assert.deepEqual(resumed.state.meta.metrics, reference.state.meta.metrics);
  });

  test('engine errors come back with their name and message; the process stays usable', async () => {
    await assert.rejects(
      trainer.run({ config: { ...config, task: 'no-such-task' } }).result,
      (e: unknown) =>
        e instanceof TrainerRemoteError &&
        e.remoteName === 'UnknownTaskError' &&
        /no-such-task/.test(e.message),
    );
    assert.equal((await trainer.run({ config: { ...config, epochs: 1 } }).result).stopped, false);
  });

  test('one run at a time', async () => {
    const run = trainer.run({ config });
    assert.throws(() => trainer.run({ config }), /already running/);
    await run.result;
  });
});

test('a killed trainer is reported as TrainerCrashedError', async () => {
  const trainer = await TrainerProcess.start({ backend: 'cpu', onStderr: () => undefined });
  const run = trainer.run({ config: { ...config, epochs: 100000 } });
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      process.kill(trainer.pid as number, 'SIGKILL');
      clearInterval(timer);
      resolve();
    }, 100);
  });
  await assert.rejects(
    run.result,
    (e: unknown) => e instanceof TrainerCrashedError && e.signal === 'SIGKILL',
  );
  assert.equal(trainer.alive, false);
  assert.throws(() => trainer.run({ config }), TrainerCrashedError);
});

test('an unavailable backend fails start with the list of available ones', async () => {
  // No GPU build and no NVIDIA device here (native CPU TensorFlow may well be built and load).
  const starting = TrainerProcess.start({ backend: 'tensorflow-gpu', onStderr: () => undefined });
  // Should it start after all, close it: a live child would keep this test file from ever exiting.
  starting.then(
    (t) => t.close(),
    () => undefined,
  );
  await assert.rejects(
    starting,
    (e: unknown) =>
      e instanceof TrainerRemoteError && e.remoteName === 'BackendUnavailableError' && /cpu/.test(e.message),
  );
});
