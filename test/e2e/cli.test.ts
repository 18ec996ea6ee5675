// The `durable-fit` CLI as a user runs it, against the real test stack and a real worker:
// start --wait --json, status, list, watch, the four controls, fork, bad arguments, and a run started
// by Temporal's own CLI (`temporal workflow start --type trainModel`).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { startTestRig, testOptions } from '../helpers/training';
import type { TestRig } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import { cli, cliJson, eventually, spawnCli } from './cli-helpers';

const taskQueue = `cli-${process.pid}`;
const CKPT = /^s3:\/\/[^/]+\/[^/]+\/epoch=\d{4}-step=\d{7}\.ckpt$/;
let client: Client;
let rig: TestRig;

before(async () => ({ client } = rig = await startTestRig(testOptions(taskQueue))));
after(() => rig?.stop());

interface Summary {
  workflowId: string;
  runId: string;
  status: string;
  finalCheckpoint: { url: string; sha256: string };
  weightsSha256: string;
  epochs: { epoch: number; ckpt: { url: string; sha256: string }; metrics: Record<string, number> }[];
  recoveries: unknown[];
  goodput: { stepsTrained: number; stepsKept: number; stepsRedone: number; ratio: number };
}

const started = `cli-${Date.now()}`;

test('start --wait --json prints the documented result; status and list show the run', async () => {
  const args = ['start', '--task', 'synthetic', '--epochs', '2', '--seed', '1', '--workflow-id', started];
  const summary = await cliJson<Summary>([...args, '--wait', '--json'], taskQueue);
  assert.deepEqual(Object.keys(summary).sort(), [
    'epochs',
    'finalCheckpoint',
    'goodput',
    'recoveries',
    'runId',
    'status',
    'weightsSha256',
    'workflowId',
  ]);
  assert.equal(summary.workflowId, started);
  assert.equal(summary.status, 'completed');
  assert.match(summary.finalCheckpoint.url, CKPT);
  assert.match(summary.finalCheckpoint.sha256, /^[0-9a-f]{64}$/);
  assert.match(summary.weightsSha256, /^[0-9a-f]{64}$/);
  assert.deepEqual(
    summary.epochs.map((e) => e.epoch),
    [0, 1],
  );
  for (const e of summary.epochs) {
    assert.match(e.ckpt.url, CKPT);
    assert.equal(typeof e.metrics.loss, 'number');
  }
  assert.deepEqual(summary.recoveries, []);
  assert.equal(summary.goodput.stepsRedone, 0, 'nothing lost in a run without faults');
  assert.equal(summary.goodput.stepsKept, summary.goodput.stepsTrained);
  assert.ok(summary.goodput.stepsKept > 0);
  assert.ok(summary.goodput.ratio > 0 && summary.goodput.ratio <= 1);

  const status = await cliJson<Record<string, unknown>>(['status', started, '--json'], taskQueue);
  assert.equal(status.execution, 'COMPLETED');
  assert.equal(status.status, 'completed');
  assert.equal((status.lastCheckpoint as { url: string }).url, summary.finalCheckpoint.url);
  assert.equal((status.metrics as unknown[]).length, 2);
  assert.deepEqual(status.goodput, summary.goodput, '`status --json` shows the same goodput ledger');
  assert.match(String(status.ui), new RegExp(`/namespaces/default/workflows/${started}$`));
  const text = await cli(['status', started], taskQueue);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /loss per epoch/);
  assert.match(text.stdout, /goodput .*steps kept \d+ of \d+/);
  assert.ok(text.stdout.includes(summary.finalCheckpoint.url));

  // Visibility is eventually consistent: poll until the run appears with its attributes.
  const row = await eventually('the run in `list --json`', async () => {
    const rows = await cliJson<{ workflowId: string; status: string; epoch: number }[]>(
      ['list', '--json', '--task', 'synthetic', '--limit', '100'],
      taskQueue,
    );
    return rows.find((r) => r.workflowId === started && r.status === 'completed');
  });
  assert.equal(row.epoch, 2);
  const table = await cli(['list', '--query', `WorkflowId = "${started}"`], taskQueue);
  assert.match(table.stdout, new RegExp(`${started}.*completed.*synthetic`));
});

// Epochs of a few seconds: the running epoch polls the controls every 2 s.
const SAMPLES = 65536;

test('checkpoint-now, pause, resume and stop steer a live run; watch follows it to the end', async () => {
  const id = `cli-controls-${Date.now()}`;
  const start = await cliJson<{ status: string }>(
    ['start', '--json', '--task', 'synthetic', '--epochs', '500', '--seed', '3', '--batch-size', '16',
      '--hparam', `samples=${SAMPLES}`, '--heartbeat-timeout', '2', '--checkpoint-every-seconds', '0',
      '--workflow-id', id], // prettier-ignore
    taskQueue,
  );
  assert.equal(start.status, 'running');
  const handle = client.workflow.getHandle<TrainModel>(id);
  const watch = spawnCli(['watch', id, '--no-bars'], taskQueue);
  await waitForEpoch(handle, (p) => p.details !== undefined);

  assert.equal((await cli(['checkpoint-now', id], taskQueue)).code, 0);
  await eventually('an intra-epoch checkpoint from checkpoint-now', async () => {
    const list = await cliJson<{ url: string; step: number }[]>(['ckpt', 'ls', id, '--json'], taskQueue);
    return list.find((c) => c.step % (SAMPLES / 16) !== 0);
  });

  const progress = () => handle.query<Progress>('progress');
  assert.equal((await cli(['pause', id], taskQueue)).code, 0);
  await eventually('paused', async () => ((await progress()).status === 'paused' ? true : undefined));
  const paused = await cliJson<{ status: string }>(['status', id, '--json'], taskQueue);
  assert.equal(paused.status, 'paused');
  const epochsAtPause = (await progress()).metrics.length;

  assert.equal((await cli(['resume', id], taskQueue)).code, 0);
  await eventually('training again after resume', async () => {
    const p = await progress();
    return p.status === 'running' && p.metrics.length > epochsAtPause ? true : undefined;
  });

  assert.equal((await cli(['stop', id], taskQueue)).code, 0);
  const result = await handle.result();
  assert.equal(result.status, 'stopped');
  assert.ok(result.epochs.length < 500);
  const watched = await watch.done;
  assert.equal(watched.code, 0, watched.stderr);
  assert.match(watched.stdout, /✓ epoch 0 done: loss/);
  assert.match(watched.stdout, /■ stopped/);
});

test('fork: same hparams continue exactly (resumeFrom); new hparams start a linked run', async () => {
  const cont = await cliJson<{ workflowId: string; mode: string }>(
    ['fork', started, '--epochs', '1', '--json'],
    taskQueue,
  );
  assert.equal(cont.mode, 'continuation');
  const contResult = await client.workflow.getHandle<TrainModel>(cont.workflowId).result();
  assert.deepEqual(
    contResult.epochs.map((e) => e.epoch),
    [2],
  );

  const fork = await cliJson<{ workflowId: string; mode: string }>(
    ['fork', started, '--hparam', 'learningRate=0.05', '--epochs', '1', '--json'],
    taskQueue,
  );
  assert.equal(fork.mode, 'weights-only fork');
  const handle = client.workflow.getHandle<TrainModel>(fork.workflowId);
  const result = await handle.result();
  assert.equal(result.status, 'completed');
  const memo = (await handle.describe()).memo as { forkedFrom?: { workflowId: string; ckpt: string } };
  assert.equal(memo.forkedFrom?.workflowId, started);
  assert.match(memo.forkedFrom?.ckpt ?? '', CKPT);
});

test('a run started with `temporal workflow start` completes and its result names its .ckpt', async () => {
  const { temporalBin, temporalAddress } = testStack();
  const id = `temporal-cli-${Date.now()}`;
  await promisify(execFile)(temporalBin, [
    'workflow', 'start', '--address', temporalAddress, '--namespace', 'default',
    '--type', TRAIN_MODEL, '--task-queue', taskQueue, '--workflow-id', id,
    '--input', '{"task":"synthetic","epochs":2,"seed":1}',
  ]); // prettier-ignore
  const result = await client.workflow.getHandle<TrainModel>(id).result();
  assert.equal(result.status, 'completed');
  assert.match(result.finalCheckpoint.url, CKPT);
  assert.match(result.runName, new RegExp(`^${id}-[0-9a-f]{8}$`), 'a run folder of its own');
  assert.ok(result.finalCheckpoint.url.includes(`/${result.runName}/epoch=0002-`));
});

test('bad arguments exit 2 with a message; every command has --help with examples', async () => {
  const bad = [
    ['start', '--task', 'synthetic', '--epochs', 'many', '--seed', '1'],
    ['start', '--task', 'no-such-task', '--epochs', '1', '--seed', '1'],
    ['start', '--task', 'synthetic', '--epochs', '1', '--seed', '1', '--hparam', 'nope'],
    ['status'],
    ['watch', 'x', '--bogus'],
    ['list', '--limit', '0'],
    ['pause'],
    ['fork', 'x', '--epochs', 'x'],
    ['no-such-command'],
  ];
  await inBatches(bad, async (args) => {
    const r = await cli(args, taskQueue);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.stderr}`);
    assert.ok(r.stderr.trim().length > 0, `${args.join(' ')} says why`);
  });
  const commands = ['watch', 'status', 'list', 'pause', 'resume', 'stop', 'checkpoint-now', 'fork', 'tasks'];
  await inBatches(commands, async (cmd) => {
    const r = await cli([cmd, '--help'], taskQueue);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /Examples:\n {2}\$ durable-fit /, cmd);
  });
  const missing = await cli(['status', 'no-such-run'], taskQueue);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no run "no-such-run"/);
});

/** Runs `fn` over `items`, three CLI processes at a time. */
async function inBatches<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += 3) await Promise.all(items.slice(i, i + 3).map(fn));
}

test('start --wait prints why a run failed where the user looks; a folder URL is refused before starting', async () => {
  const missing = 's3://durable-fit/no-such-run/epoch=0001-step=0000010.ckpt';
  const failed = await cli(
    ['start', '--task', 'synthetic', '--epochs', '1', '--seed', '1', '--resume-from', missing, '--wait'],
    taskQueue,
  );
  assert.equal(failed.code, 1, failed.stderr);
  assert.doesNotMatch(failed.stderr, /^durable-fit: Workflow execution failed$/m);
  assert.match(failed.stderr, /no-such-run\/epoch=0001-step=0000010\.ckpt/);
  assert.match(failed.stderr, /durable-fit status /);
  const folder = await cli(
    [
      'start',
      '--task',
      'synthetic',
      '--epochs',
      '1',
      '--seed',
      '1',
      '--resume-from',
      's3://durable-fit/run/',
      '--wait',
    ],
    taskQueue,
  );
  assert.equal(folder.code, 2, folder.stderr);
  assert.match(folder.stderr, /prefix, not a checkpoint|\.ckpt/);
});
