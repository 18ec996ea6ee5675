// The worker's Prometheus endpoint on the real stack: a `durable-fit worker --metrics-port` process
// trains a small run while the test scrapes /metrics. During a held epoch (gated-synthetic) the
// steps, rate, loss, checkpoint bytes, heartbeat lag, trainer RSS and the SDK's temporal_* series are
// there; after a pause, a resume and the end of the run the totals match what the run did: steps,
// epochs, the bytes of every .ckpt in the bucket and of the checkpoint the resume loaded.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { Progress, TrainingSpecInput, TrainModel } from '../../src/contract';
import { freePort } from '../../src/stack/ports';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { GATE_ENV } from '../helpers/gated-task';
import { testStack } from '../helpers/stack-env';
import { testClient, testEnv } from '../helpers/training';
import { waitForEpoch } from '../helpers/worker-fleet';
import { pollUntil, waitForStatus } from '../helpers/poll';

const taskQueue = `metrics-${process.pid}`;
const logDir = 'test-artifacts/metrics';
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-metrics-'));
const gate = path.join(dir, 'gate'); // see test/helpers/gated-task.ts
let client: Client;
let closeClient: () => Promise<void>;
let worker: ChildProcess;
let metricsUrl: string;

before(async () => {
  ({ client, close: closeClient } = await testClient());
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}/metrics`;
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, 'worker.log');
  const log = fs.openSync(logFile, 'w');
  const args = ['bin/durable-fit.cjs', 'worker', '--task-queue', taskQueue, '--backend', 'cpu'];
  args.push('--task-module', 'test/helpers/gated-task.ts', '--metrics-port', String(port));
  worker = spawn(process.execPath, args, {
    env: { ...testEnv(), [GATE_ENV]: gate },
    stdio: ['ignore', log, log],
  });
  fs.closeSync(log);
  await pollUntil(
    `worker ready (${logFile})`,
    () => fs.readFileSync(logFile, 'utf8').includes('polling task queue'),
    120_000,
  );
  assert.match(fs.readFileSync(logFile, 'utf8'), new RegExp(`metrics on ${metricsUrl}`));
});

after(async () => {
  if (worker.exitCode === null) {
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  await closeClient();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('scraped during and after a run, the metrics move with it and add up to what it did', async () => {
  const spec: TrainingSpecInput = {
    task: 'gated-synthetic',
    epochs: 3,
    seed: 7,
    batchSize: 16,
    hparams: { samples: 1024 },
    checkpoint: { everyBatches: 4, everySeconds: 0, keepLast: 0 },
  };
  const labels = { task: 'gated-synthetic', backend: 'cpu' };
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId: `metrics-${Date.now()}`,
    args: [spec],
  });

  // During: epoch 0 is held by the closed gate; an intra-epoch checkpoint is already durable.
  const running = await waitForEpoch(handle, (p) => p.details?.ckpt !== undefined && p.details.batch >= 6);
  const batches = running.details?.batches ?? 0;
  assert.ok(batches > 8, `${batches} batches per epoch`);
  // The rate needs a second of training, the RSS its first sample: states, waited for.
  const during = await scrapeUntil(
    (m) =>
      value(m, 'dfit_training_steps_per_second', labels) > 0 &&
      value(m, 'dfit_trainer_rss_bytes', { backend: 'cpu' }) > 0,
  );
  assert.ok(value(during, 'dfit_training_steps_total', labels) >= 6, 'steps counted');
  assert.ok(Number.isFinite(value(during, 'dfit_training_loss', labels)), 'a loss');
  assert.ok(
    value(during, 'dfit_checkpoint_bytes_total', { ...labels, op: 'save' }) > 0,
    'checkpoint bytes saved',
  );
  assert.ok(value(during, 'dfit_checkpoint_seconds_count', { ...labels, op: 'save' }) >= 1);
  const lag = value(during, 'dfit_heartbeat_lag_seconds', labels);
  assert.ok(lag >= 0 && lag < 5, `heartbeat lag ${lag} s`);
  assert.ok(value(during, 'dfit_trainer_rss_bytes', { backend: 'cpu', slot: '0' }) > 20e6, 'trainer RSS');
  assert.equal(value(during, 'dfit_epoch_duration_seconds_count', labels), 0, 'no epoch finished yet');
  // The SDK's own series on the same endpoint: the run's first activity has finished.
  const sdkActivities = (m: Scrape, type: string) =>
    value(m, 'temporal_activity_execution_latency_count', { activity_type: type, task_queue: taskQueue });
  assert.equal(sdkActivities(during, 'prepareRun'), 1, 'temporal_* series next to ours');

  // A pause and a resume: the resume loads the paused-at checkpoint, and is not a recovery.
  await handle.signal('pause');
  await waitForStatus(handle, 'paused', 120_000);
  const paused = (await handle.query<Progress>('progress')).lastCheckpoint;
  assert.ok(paused, 'paused at a checkpoint');
  await handle.signal('resume');
  fs.writeFileSync(gate, ''); // the rest trains at full speed
  const result = await handle.result();
  assert.equal(result.status, 'completed');

  const end = await scrape();
  assert.equal(value(end, 'dfit_training_steps_total', labels), 3 * batches, 'every step once');
  assert.equal(value(end, 'dfit_epoch_duration_seconds_count', labels), 3, 'one observation per epoch');
  // prepareRun, three epochs and the resumed one (applyRetention runs only with a retention policy).
  assert.ok(value(end, 'temporal_activity_execution_latency_count', { workflow_type: TRAIN_MODEL }) >= 5);
  assert.ok(value(end, 'dfit_epoch_duration_seconds_sum', labels) > 0);
  const objects = createMinioObjectClient(testStack().s3);
  const ckpts = (await objects.list(`${result.runName}/`)).filter((o) => o.key.endsWith('.ckpt'));
  const savedBytes = ckpts.reduce((sum, o) => sum + o.size, 0);
  assert.equal(
    value(end, 'dfit_checkpoint_bytes_total', { ...labels, op: 'save' }),
    savedBytes,
    'bytes of every .ckpt',
  );
  // The resume read the paused-at checkpoint; an epoch-end save that finds its key taken by an
  // intra-epoch save of the same state reads that object to compare (activities/checkpoint-saver.ts).
  const loaded = value(end, 'dfit_checkpoint_bytes_total', { ...labels, op: 'load' });
  assert.ok(loaded >= paused.bytes, `${loaded} bytes loaded`);
  assert.ok(value(end, 'dfit_checkpoint_seconds_count', { ...labels, op: 'load' }) >= 1);
  assert.equal(value(end, 'dfit_recoveries_total', labels), 0, 'a pause is not a recovery');
  assert.equal(value(end, 'dfit_heartbeat_lag_seconds', labels), 0, 'no epoch owes a heartbeat');
  assert.equal(value(end, 'dfit_training_steps_per_second', labels), 0, 'nothing trains');
});

/** `name{label="v",…}` → value, from the Prometheus text format. */
type Scrape = Map<string, number>;

async function scrape(): Promise<Scrape> {
  const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(5000) });
  assert.equal(response.status, 200);
  const text = await response.text();
  fs.writeFileSync(path.join(logDir, 'last-scrape.txt'), text); // what the endpoint served last
  const series: Scrape = new Map();
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (match?.[1] && match[2]) series.set(match[1], Number(match[2]));
  }
  return series;
}

async function scrapeUntil(check: (m: Scrape) => boolean): Promise<Scrape> {
  let last: Scrape = new Map();
  await pollUntil('the metrics to appear', async () => check((last = await scrape())), 120_000);
  return last;
}

/** Sum of the series named `name` whose labels include `labels` (0 when there is none). */
function value(m: Scrape, name: string, labels: Record<string, string>): number {
  let sum = 0;
  for (const [series, v] of m) {
    const [, seriesName, body = ''] = /^([^{]+)(?:\{(.*)\})?$/.exec(series) ?? [];
    if (seriesName !== name) continue;
    const have = Object.fromEntries(
      [...body.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]),
    );
    if (Object.entries(labels).every(([k, want]) => have[k] === want)) sum += v;
  }
  return sum;
}
