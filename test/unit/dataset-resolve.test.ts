// A run's dataset is resolved once, when it starts (issue 23, brief D2): `prepareRun` turns the
// spec's reference — or a streaming task's own — `name`, `name@<full>` or `name@<8+ hex prefix>`,
// into `name@<64 hex>` in the prepared spec, which every epoch, resume and shard then reads. A
// resume keeps its checkpoint's version; an unknown name, an unknown or ambiguous prefix, and a
// dataset for a task with in-memory data fail at start, permanently.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { prepareRun } from '../../activities/prepare-run';
import type { PrepareRunDeps } from '../../activities/prepare-run';
import type { CheckpointIO } from '../../src/checkpoint/checkpoint-io';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { DatasetStore, manifestKey, parseDatasetRef } from '../../src/data/dataset-store';
import {
  AmbiguousDatasetVersionError,
  DatasetNotFoundError,
  DatasetVersionMismatchError,
  InvalidDatasetRefError,
} from '../../src/data/errors';
import { importFiles } from '../../src/data/importer';
import { assertDatasetApplies } from '../../src/cli/spec-flags';
import { classifyError } from '../../src/failure-kind';
import { InvalidSpecError, parseSpec } from '../../src/spec';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { InvalidRunConfigError } from '../../src/training/errors';
import { getTask, validateHparams } from '../../src/training/tasks';

async function csvFile(rows: number): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-resolve-'));
  const file = path.join(dir, 'rows.csv');
  await writeFile(file, 'a,label\n' + Array.from({ length: rows }, (_, i) => `${i},${i % 2}`).join('\n'));
  return file;
}

/** A bucket with `name` imported twice (3 rows, then 5): returns both versions, the latter latest. */
async function bucketWithTwoVersions(name: string) {
  const client = createMemoryObjectClient();
  const datasets = new DatasetStore(client);
  const first = (await importFiles(datasets, [await csvFile(3)], { name })).version;
  const second = (await importFiles(datasets, [await csvFile(5)], { name })).version;
  return { client, datasets, first, second };
}

test('references: a version prefix of 8 or more hex digits; anything else is a permanent InvalidDatasetRefError', () => {
  assert.deepEqual(parseDatasetRef('d@0123abcd'), { name: 'd', version: '0123abcd' });
  for (const bad of ['d@0123abc', 'D', 'd@latest', 'd@0123abcd@0123abcd']) {
    assert.throws(() => parseDatasetRef(bad), InvalidDatasetRefError, bad);
    assert.equal(classifyError(captured(() => parseDatasetRef(bad))).kind, 'permanent');
  }
  assert.equal(parseSpec({ task: 'x', epochs: 1, seed: 1, dataset: 'd@0123abcd' }).dataset, 'd@0123abcd');
  assert.throws(
    () => parseSpec({ task: 'x', epochs: 1, seed: 1, dataset: 'd@0123abc' }),
    (err: unknown) => err instanceof InvalidSpecError && /first 8 or more of them/.test(err.message),
  );
});

test('the store resolves a unique prefix; an unknown one says data ls <name>; an ambiguous one lists the versions', async () => {
  const { client, datasets, first, second } = await bucketWithTwoVersions('d');
  assert.equal((await datasets.resolve(`d@${first.slice(0, 8)}`)).version, first);
  assert.equal((await datasets.resolve('d')).version, second);
  const unknown = [...'0123456789abcdef'].find((c) => !first.startsWith(c) && !second.startsWith(c));
  await assert.rejects(
    datasets.resolve(`d@${(unknown as string).repeat(8)}`),
    (err: unknown) => err instanceof DatasetNotFoundError && err.message.includes('`durable-fit data ls d`'),
  );
  await assert.rejects(datasets.resolve('nope'), DatasetNotFoundError);
  // Two versions sharing 8 hex digits (a real collision needs ~2^32 imports): listed keys suffice,
  // the ambiguity is found before any manifest is read.
  const [a, b] = [`0123abcd${'1'.repeat(56)}`, `0123abcd${'2'.repeat(56)}`];
  for (const v of [a, b]) await client.put(manifestKey('d', v), Buffer.from('{}'));
  await assert.rejects(
    datasets.resolve('d@0123abcd'),
    (err: unknown) =>
      err instanceof AmbiguousDatasetVersionError &&
      err.message.includes(a) &&
      err.message.includes(b) &&
      err.message.includes('`durable-fit data ls d`') &&
      classifyError(err).kind === 'permanent',
  );
});

const spec = { task: 'mnist-mlp-stream', epochs: 2, seed: 1, batchSize: 16, hparams: { hidden: 4 } };

function deps(datasets: DatasetStore | undefined, source?: unknown): PrepareRunDeps {
  const store = {
    loadSource: () => Promise.resolve(source),
  } as unknown as CheckpointIO;
  return {
    store,
    runs: new ObjectRunFolder(createMemoryObjectClient()),
    ...(datasets ? { datasets } : {}),
  };
}

const run = (d: PrepareRunDeps, extra: Record<string, unknown>, id = 'run-1') =>
  prepareRun(d, { spec: { ...spec, ...extra }, workflowId: id });

test('prepareRun writes the dataset back resolved: name → latest, a prefix → its version, a full version as is', async () => {
  const { datasets, first, second } = await bucketWithTwoVersions('d');
  assert.equal((await run(deps(datasets), { dataset: 'd' })).spec.dataset, `d@${second}`);
  assert.equal((await run(deps(datasets), { dataset: `d@${first.slice(0, 8)}` })).spec.dataset, `d@${first}`);
  assert.equal((await run(deps(datasets), { dataset: `d@${first}` })).spec.dataset, `d@${first}`);
  // No spec.dataset: the task's own reference (hparams.dataset here) is resolved.
  const own = await run(deps(datasets), { hparams: { hidden: 4, dataset: 'd' } });
  assert.equal(own.spec.dataset, `d@${second}`);
  assert.equal(own.spec.hparams.dataset, 'd', 'hparams stay as written: a resume compares them');
});

test('prepareRun refuses at start: an unknown name or prefix, and a dataset for a task with in-memory data', async () => {
  const { datasets } = await bucketWithTwoVersions('d');
  await assert.rejects(run(deps(datasets), { dataset: 'other' }), DatasetNotFoundError);
  await assert.rejects(run(deps(datasets), {}), DatasetNotFoundError, "the task's default mnist is absent");
  await assert.rejects(run(deps(datasets), { dataset: 'd@ffffffff0' }), DatasetNotFoundError);
  await assert.rejects(
    prepareRun(deps(datasets), {
      spec: { task: 'synthetic', epochs: 1, seed: 1, dataset: 'd' },
      workflowId: 'synthetic-1',
    }),
    (err: unknown) =>
      err instanceof InvalidRunConfigError &&
      /"d" was given, but synthetic trains on its own in-memory data/.test(err.message) &&
      classifyError(err).kind === 'permanent',
  );
  // In-memory tasks without a dataset need no store at all.
  const plain = await prepareRun(deps(undefined), {
    spec: { task: 'synthetic', epochs: 1, seed: 1 },
    workflowId: 'synthetic-2',
  });
  assert.equal(plain.spec.dataset, undefined);
});

test("a resume keeps its checkpoint's version; another version is refused naming both", async () => {
  const { datasets, first, second } = await bucketWithTwoVersions('d');
  const source = {
    sha256: 'f'.repeat(64),
    bytes: 1,
    state: {
      meta: {
        task: 'mnist-mlp-stream',
        hparams: validateHparams(getTask('mnist-mlp-stream'), { hidden: 4 }),
        spec: { seed: 1, batchSize: 16 },
        cursor: { epoch: 1, batch: 0, step: 1, batchesPerEpoch: 1 },
        backend: { name: 'cpu', versions: {} },
        dataset: { name: 'd', version: first },
      },
    },
  };
  const resumeFrom = 's3://bucket-x/run-1/epoch=0001-step=0000001.ckpt';
  const d = () => deps(datasets, source);
  const kept = await run(d(), { resumeFrom, dataset: 'd' });
  assert.equal(kept.spec.dataset, `d@${first}`, 'not the latest');
  assert.equal(
    (await run(d(), { resumeFrom, dataset: `d@${first.slice(0, 10)}` })).spec.dataset,
    `d@${first}`,
  );
  await assert.rejects(
    run(d(), { resumeFrom, dataset: `d@${second.slice(0, 8)}` }),
    (err: unknown) =>
      err instanceof DatasetVersionMismatchError &&
      err.message.includes(first) &&
      err.message.includes(second),
  );
});

test('a worker without a dataset store passes a name or full version on, and refuses a prefix', async () => {
  const { first } = await bucketWithTwoVersions('d');
  assert.equal((await run(deps(undefined), { dataset: 'd' })).spec.dataset, 'd');
  assert.equal((await run(deps(undefined), { dataset: `d@${first}` })).spec.dataset, `d@${first}`);
  await assert.rejects(run(deps(undefined), { dataset: `d@${first.slice(0, 8)}` }), /in full/);
});

function captured(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('did not throw');
}

test('the CLI refuses a dataset for a task its descriptor says trains in memory, before starting', () => {
  assert.throws(
    () => assertDatasetApplies({ task: 'synthetic', dataset: 'd' }),
    (err: unknown) =>
      err instanceof InvalidSpecError && /synthetic trains on its own in-memory data/.test(err.message),
  );
  assertDatasetApplies({ task: 'mnist-mlp-stream', dataset: 'd@0123abcd' });
  assertDatasetApplies({ task: 'synthetic' });
});

test('prepareRun resolves validationDataset too; a resume keeps the checkpoint’s validation version for a bare name', async () => {
  const { datasets, first, second } = await bucketWithTwoVersions('d');
  const fresh = await run(deps(datasets), { dataset: 'd', validationDataset: `d@${first.slice(0, 8)}` });
  assert.equal(fresh.spec.validationDataset, `d@${first}`);
  assert.equal((await run(deps(datasets), { dataset: 'd' })).spec.validationDataset, undefined);
  await assert.rejects(
    prepareRun(deps(datasets), {
      spec: { task: 'synthetic', epochs: 1, seed: 1, validationDataset: 'd' },
      workflowId: 'synthetic-3',
    }),
    (err: unknown) => err instanceof InvalidRunConfigError && /validationDataset/.test(err.message),
  );
  const meta = {
    task: 'mnist-mlp-stream',
    hparams: validateHparams(getTask('mnist-mlp-stream'), { hidden: 4 }),
    spec: { seed: 1, batchSize: 16 },
    cursor: { epoch: 1, batch: 0, step: 1, batchesPerEpoch: 1 },
    backend: { name: 'cpu', versions: {} },
    dataset: { name: 'd', version: second },
    validationDataset: { name: 'd', version: first },
  };
  const resumed = await run(deps(datasets, { sha256: 'f'.repeat(64), bytes: 1, state: { meta } }), {
    resumeFrom: 's3://bucket-x/run-1/epoch=0001-step=0000001.ckpt',
    dataset: 'd',
    validationDataset: 'd',
  });
  assert.equal(resumed.spec.dataset, `d@${second}`);
  assert.equal(resumed.spec.validationDataset, `d@${first}`, 'not the latest');
});
