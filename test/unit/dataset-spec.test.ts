// The spec names a dataset (issue 23): `dataset` is `name` or `name@version` (anything else refused
// with what to write), `start --dataset` and `fork --dataset` set it, the engine's RunConfig.dataset
// takes the place of the task's own reference, and a task with in-memory data refuses one. A fork
// that changes the dataset version starts from the weights (a resume on another version is refused).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { forkSpec } from '../../src/cli/fork-command';
import { withForkFlags } from '../../src/cli/render/fork-flags';
import { specFromFlags, withSpecFlags } from '../../src/cli/spec-flags';
import type { SpecFlags } from '../../src/cli/spec-flags';
import { DatasetStore } from '../../src/data/dataset-store';
import { InvalidSpecError, parseSpec } from '../../src/spec';
import type { CheckpointMeta } from '../../src/state';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { captureState } from '../../src/training/capture';
import { InvalidRunConfigError } from '../../src/training/errors';
import { importMnistDataset } from '../../src/training/tasks/mnist-dataset';
import { Trainer } from '../../src/training/trainer';

const base = { task: 'mnist-mlp-stream', epochs: 1, seed: 1 };

test('spec.dataset: name or name@version (or 8+ hex digits of it); anything else is refused saying what to write', () => {
  assert.equal(parseSpec({ ...base, dataset: 'mnist' }).dataset, 'mnist');
  assert.equal(parseSpec({ ...base, dataset: 'mnist@3f2a9c01' }).dataset, 'mnist@3f2a9c01');
  const full = `my_digits-2@${'3f'.repeat(32)}`;
  assert.equal(parseSpec({ ...base, dataset: full }).dataset, full);
  assert.equal(parseSpec(base).dataset, undefined);
  for (const bad of [
    'MNIST',
    'mnist@',
    'mnist@3f2a9c0', // a prefix needs 8 hex digits at least
    `mnist@${'x'.repeat(64)}`,
    'a@3f2a9c01@3f2a9c01',
    '-x',
    '',
  ]) {
    assert.throws(
      () => parseSpec({ ...base, dataset: bad }),
      (err: unknown) =>
        err instanceof InvalidSpecError &&
        /^dataset: .* write name or name@version/.test(err.problems[0] ?? '') &&
        err.message.includes('durable-fit data ls'),
      bad,
    );
  }
});

function parseFlags(command: Command, argv: string[]): SpecFlags {
  command.exitOverride().parse(argv, { from: 'user' });
  return command.opts<SpecFlags>();
}

test('start --dataset and fork --dataset set spec.dataset', () => {
  const start = parseFlags(withSpecFlags(new Command('start')), [
    '--task',
    'x',
    '--dataset',
    'mnist@3f2a9c01',
  ]);
  assert.equal(specFromFlags(start).dataset, 'mnist@3f2a9c01');
  assert.equal(specFromFlags(parseFlags(withSpecFlags(new Command('start')), [])).dataset, undefined);
  const fork = parseFlags(withForkFlags(new Command('fork')), ['--dataset', 'other']);
  assert.equal(fork.dataset, 'other');
});

const version = 'ab'.repeat(32);
const meta = {
  task: 'mnist-mlp-stream',
  hparams: { hidden: 16 },
  cursor: { epoch: 2, batch: 0, step: 20 },
  spec: { training: { seed: 3, batchSize: 16, epochs: 2, dataset: 'mnist' } },
  dataset: { name: 'mnist', version },
} as unknown as CheckpointMeta;
const parent = { workflowId: 'run-1', ckpt: 's3://b/run-1/epoch=0002-step=0000020.ckpt' };
const flags = (extra: Partial<SpecFlags>): SpecFlags => ({ hparam: {}, ...extra });

test("fork: the checkpoint's dataset version continues it; another dataset or version starts from the weights", () => {
  const same = forkSpec(meta, parent, flags({}));
  assert.equal(same.resumeFrom, parent.ckpt);
  assert.equal(same.dataset, 'mnist'); // the parent's reference; the resume keeps the checkpoint's version
  const pinned = forkSpec(meta, parent, flags({ dataset: `mnist@${version}` }));
  assert.equal(pinned.resumeFrom, parent.ckpt);
  const prefix = forkSpec(meta, parent, flags({ dataset: `mnist@${version.slice(0, 8)}` }));
  assert.equal(prefix.resumeFrom, parent.ckpt, "a prefix of the checkpoint's version continues it");
  for (const dataset of [`mnist@${'cd'.repeat(32)}`, 'mnist', 'digits']) {
    const changed = forkSpec(meta, parent, flags({ dataset }));
    assert.equal(changed.resumeFrom, undefined, dataset);
    assert.equal(changed.dataset, dataset);
    assert.deepEqual(changed.forkedFrom, parent);
    assert.equal(changed.epochs, 2);
  }
});

test("RunConfig.dataset replaces the task's reference; a task with in-memory data refuses one", async () => {
  const store = new DatasetStore(createMemoryObjectClient());
  const imported = await importMnistDataset(store, 'digits-a', { rows: 64, shardRows: 32 });
  const trainer = await Trainer.create({ backend: 'cpu', datasets: store });
  const config = {
    task: 'mnist-mlp-stream',
    hparams: { valSize: 16, hidden: 4 },
    seed: 1,
    batchSize: 16,
    epochs: 1,
  };
  // The task's own reference is 'mnist', which this store does not hold.
  await assert.rejects(trainer.openSession(config), /mnist/);
  const session = await trainer.openSession({ ...config, dataset: 'digits-a' });
  assert.deepEqual(captureState(session).meta.dataset, { name: 'digits-a', version: imported.version });
  session.dispose();
  await assert.rejects(
    trainer.openSession({
      task: 'synthetic',
      hparams: {},
      seed: 1,
      batchSize: 16,
      epochs: 1,
      dataset: 'digits-a',
    }),
    (err: unknown) =>
      err instanceof InvalidRunConfigError && /synthetic trains on its own in-memory data/.test(err.message),
  );
});
