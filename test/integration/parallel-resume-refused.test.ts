// A data-parallel run cannot continue from a checkpoint (issue 22, item 3): it used to ignore
// `resumeFrom` and `forkedFrom` and train from round 0 with no warning. Both are refused now, at the
// client and, for a run started without it (as by `temporal workflow start`), by the run's first
// activity: the run fails with the reason and what to do, before any round trains or anything is
// written to its folder (real Temporal + MinIO).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { validateSpecInput } from '../../src/client';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import { TRAIN_MODEL } from '../../src/contract';
import type { ParallelTrainingResult, TrainingSpecInput, TrainParallel } from '../../src/contract';
import { InvalidSpecError } from '../../src/spec';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { testStack } from '../helpers/stack-env';
import { startTestWorker, testClient, testOptions } from '../helpers/training';

const taskQueue = `parallel-resume-refused-${process.pid}`;
const runs = new ObjectRunFolder(createMinioObjectClient(testStack().s3));
/** 96 samples, 2 shards of 48, batch 8: 6 shard batches per data epoch; 2 epochs = 12 steps = 1 round. */
const SPEC = {
  task: 'synthetic',
  epochs: 2,
  seed: 3,
  batchSize: 8,
  hparams: { samples: 96 },
  checkpoint: { everyBatches: 0, everySeconds: 0 },
  parallel: { shards: 2, syncEverySteps: 12 },
};
let client: Client;
let close: () => Promise<void>;
let worker: Awaited<ReturnType<typeof startTestWorker>>;
/** The source run's final global checkpoint (round 1's, after one merged round). */
let global: string;

before(async () => {
  ({ client, close } = await testClient());
  worker = await startTestWorker(testOptions(taskQueue), { maxConcurrentTrainings: 2 });
  const source = await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `parallel-resume-source-${process.pid}-${Date.now() % 1e6}`,
    args: [SPEC],
  });
  assert.equal(source.status, 'completed');
  global = source.finalCheckpoint.url;
  assert.match(global, /\/parallel\/round=0001\/global\.ckpt$/);
});
after(async () => {
  await worker.stop();
  await close();
});

/** Runs the spec as `temporal workflow start` would (no client checks); returns how it ended. */
async function runRaw(
  runName: string,
  spec: TrainingSpecInput,
): Promise<ParallelTrainingResult | WorkflowFailedError> {
  try {
    return await client.workflow.execute<TrainParallel>(TRAIN_MODEL, {
      taskQueue,
      workflowId: runName,
      args: [{ ...spec, runName }],
    });
  } catch (err) {
    assert.ok(err instanceof WorkflowFailedError, String(err));
    return err;
  }
}

const CASES = [
  {
    name: 'resumeFrom a global checkpoint',
    field: 'resumeFrom',
    spec: () => ({ ...SPEC, epochs: 4, resumeFrom: global }),
  },
  {
    name: 'forkedFrom a global checkpoint (new hparams: a weights-only fork)',
    field: 'forkedFrom',
    spec: () => ({ ...SPEC, hparams: { samples: 96, learningRate: 0.02 }, forkedFrom: { ckpt: global } }),
  },
];

for (const c of CASES) {
  test(`parallel with ${c.name}: refused at the client and by the run, before any round trains`, async () => {
    const runName = `parallel-refused-${c.field}-${process.pid}-${Date.now() % 1e6}`;
    const expected = new RegExp(`${c.field}.*parallel|parallel.*${c.field}`);
    const outcome = await runRaw(runName, c.spec());
    assert.ok(
      outcome instanceof WorkflowFailedError,
      `the run was not refused: it ended ${JSON.stringify({
        status: outcome instanceof WorkflowFailedError ? undefined : outcome.status,
        rounds: outcome instanceof WorkflowFailedError ? undefined : outcome.rounds?.map((r) => r.round),
      })} (trained from round 0, ignoring ${c.field})`,
    );
    const cause = outcome.cause as { type?: string; message: string };
    assert.equal(cause.type, 'InvalidSpecError');
    assert.match(cause.message, expected);
    assert.match(cause.message, /not supported/);
    assert.deepEqual(await runs.listCkptUrlsUnder(runName, 'parallel'), [], 'no round was trained');
    assert.throws(
      () => validateSpecInput(c.spec(), runName),
      (err: unknown) => err instanceof InvalidSpecError && expected.test(err.message),
    );
  });
}

test('what the refusal advises works: a single-worker run (no parallel) starts from the global checkpoint’s weights', async () => {
  const runName = `parallel-global-fork-${process.pid}-${Date.now() % 1e6}`;
  const { parallel: _parallel, ...single } = SPEC;
  const spec = { ...single, hparams: { samples: 96, learningRate: 0.02 }, forkedFrom: { ckpt: global } };
  validateSpecInput(spec, runName);
  const result = await runRaw(runName, spec);
  assert.ok(
    !(result instanceof WorkflowFailedError),
    String(result instanceof Error && result.cause?.message),
  );
  assert.equal(result.status, 'completed');
  assert.equal(result.epochs.length, SPEC.epochs);
});
