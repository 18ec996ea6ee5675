// Sweeps on the real stack (Temporal dev server, MinIO, a real worker training on cpu): a seeded
// random sweep repeats itself bit for bit; ASHA trains fewer epochs than the full search on the same
// trials; PBT forks start from their source checkpoint exactly, pinned in the source's folder.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { TrainEpochInput } from '../../src/contract';
import type { SweepInput, SweepResult } from '../../src/contract/sweep';
import { parseCheckpointUrl } from '../../src/checkpoint/keys';
import { pinnedCheckpoints } from '../../src/checkpoint/pins';
import { storageOver } from '../helpers/storage-ports';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { startSweep } from '../../src/sweep/client';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `sweep-${process.pid}`;
let client: Client;
let closeClient: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
let storage: ReturnType<typeof storageOver>;

before(async () => {
  ({ client, close: closeClient } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue), { maxConcurrentTrainings: 2 });
  storage = storageOver(createMinioObjectClient(testStack().s3));
});
after(async () => {
  await worker.stop();
  await closeClient();
});

const fast = { recovery: { heartbeatTimeoutSeconds: 5, backoffSeconds: 0.1 } };
let ids = 0;
async function sweep(input: SweepInput): Promise<SweepResult> {
  const workflowId = `sweep-it-${process.pid}-${++ids}`;
  const handle = await startSweep(client, input, { workflowId, taskQueue });
  return handle.result();
}

const folderOf = (url: string) => parseCheckpointUrl(url).key.split('/')[0] as string;

test('a seeded random sweep (6 trials × 3 epochs, synthetic) gives the same trials and best weights twice', async () => {
  const input: SweepInput = {
    task: 'synthetic',
    seed: 21,
    epochs: 3,
    trials: 6,
    concurrency: 2,
    metric: 'valLoss',
    mode: 'min',
    search: { kind: 'random' },
    space: {
      learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true },
      hidden: { kind: 'choice', values: [4, 8] },
    },
    base: { batchSize: 16, hparams: { samples: 64, valSamples: 32 }, ...fast },
  };
  const a = await sweep(input);
  const b = await sweep(input);
  assert.equal(a.status, 'completed');
  assert.deepEqual(
    b.trials.map((t) => t.hparams),
    a.trials.map((t) => t.hparams),
  );
  assert.equal(new Set(a.trials.map((t) => JSON.stringify(t.hparams))).size, 6);
  assert.ok(a.best && b.best);
  assert.equal(b.best.trial, a.best.trial);
  assert.equal(b.best.metric, a.best.metric);
  assert.match(a.best.weightsSha256 ?? '', /^[0-9a-f]{64}$/);
  assert.equal(b.best.weightsSha256, a.best.weightsSha256);
  assert.notEqual(folderOf(b.best.finalCheckpoint.url), folderOf(a.best.finalCheckpoint.url));
  // Retention across the sweep: each trial keeps its last and its best epoch checkpoint only.
  for (const t of a.trials) {
    const kept = await storage.runs.list(folderOf(t.lastCheckpoint?.url ?? ''));
    assert.ok(kept.length >= 1 && kept.length <= 2, `${t.id} keeps ${kept.length} checkpoints`);
    assert.ok(kept.some((c) => c.url === t.lastCheckpoint?.url));
  }
});

const mnist = (search: SweepInput['search'], extra: Partial<SweepInput> = {}): SweepInput => ({
  task: 'mnist-mlp',
  seed: 5,
  epochs: 3,
  trials: 8,
  concurrency: 2,
  metric: 'valLoss',
  mode: 'min',
  search,
  space: {
    learningRate: { kind: 'range', min: 0.0003, max: 0.03, log: true },
    hidden: { kind: 'choice', values: [16, 32] },
  },
  base: { batchSize: 32, hparams: { trainSize: 256, valSize: 128, dropout: 0 }, ...fast },
  ...extra,
});

test('ASHA on mnist-mlp (8 trials, rungs 1-2-3) trains fewer epochs than the full search on the same trials', async () => {
  const asha = await sweep(mnist({ kind: 'asha', reductionFactor: 2 }));
  const full = await sweep(mnist({ kind: 'random' }));
  assert.deepEqual(
    asha.trials.map((t) => t.hparams),
    full.trials.map((t) => t.hparams),
  );
  assert.equal(asha.epochsTrained, 8 + 4 + 2);
  assert.equal(full.epochsTrained, 24);
  assert.ok(asha.epochsTrained < full.epochsTrained);
  assert.equal(asha.trials.filter((t) => t.state === 'completed').length, 2);
  assert.equal(asha.trials.filter((t) => t.state === 'stopped').length, 6);
  // Rung continuations resume exactly: each survivor ends with the weights of its uninterrupted run.
  for (const t of asha.trials.filter((tr) => tr.state === 'completed')) {
    const same = full.trials.find((tr) => tr.id === t.id);
    assert.equal(t.weightsSha256, same?.weightsSha256, `${t.id}: rungs 1+1+1 epochs = 3 epochs in one run`);
  }
  // A figure for the README, not an assertion: early stopping may stop a late bloomer.
  console.log(
    `ASHA best ${asha.best?.trial} valLoss ${asha.best?.metric} (${asha.epochsTrained} epochs) vs ` +
      `full search best ${full.best?.trial} valLoss ${full.best?.metric} (${full.epochsTrained} epochs)`,
  );
});

test('PBT on mnist-mlp: forks are lineage, start from the source checkpoint bit-exactly, and pin it', async () => {
  const space = { learningRate: { kind: 'range' as const, min: 0.0003, max: 0.03, log: true } };
  const extra = { trials: 4, epochs: 2, metric: 'valAccuracy', mode: 'max' as const, space };
  const pbt = await sweep(mnist({ kind: 'pbt', interval: 1, quantile: 0.25 }, extra));
  assert.equal(pbt.lineage.length, 1);
  const [fork] = pbt.lineage;
  assert.ok(fork);
  const source = pbt.trials.find((t) => t.id === fork.from);
  const target = pbt.trials.find((t) => t.id === fork.trial);
  assert.ok(source && target);
  const forkRun = target.runs[1] as string;
  const epochs = await scheduledEpochs(forkRun);
  assert.equal(epochs[0]?.epoch, 0);
  assert.equal(epochs[0]?.initFrom?.url, fork.ckpt, 'the fork trains from the source checkpoint');
  assert.equal(epochs[0]?.initFrom?.sha256, fork.sha256, 'verified by its hash before loading');
  // The checkpoint is intact (load verifies the payload hash) and pinned for the fork's run.
  await storage.store.load(fork.ckpt, { sha256: fork.sha256 });
  const pins = await pinnedCheckpoints(storage.runs, folderOf(fork.ckpt));
  assert.ok(pins.includes(fork.ckpt), 'the source folder pins the forked checkpoint');
  assert.deepEqual(target.hparams, fork.hparams);
  const fixed = await sweep(mnist({ kind: 'random' }, extra));
  console.log(
    `PBT best ${pbt.best?.trial} valAccuracy ${pbt.best?.metric} vs best fixed-hparam trial ` +
      `${fixed.best?.trial} valAccuracy ${fixed.best?.metric} (same 4 × 2 epochs)`,
  );
});

/** The epoch activities a run scheduled, with their inputs, from its history. */
async function scheduledEpochs(workflowId: string): Promise<TrainEpochInput[]> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const a = e.activityTaskScheduledEventAttributes;
    const payload = a?.input?.payloads?.[0];
    if (a?.activityType?.name !== 'trainEpoch' || !payload) return [];
    return [defaultPayloadConverter.fromPayload<TrainEpochInput>(payload)];
  });
}
