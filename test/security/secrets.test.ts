// Secrets stay out of what other people read, on the failure path too (the happy path is covered by
// test/integration/train-workflow.test.ts). A real `durable-fit worker` process holds the S3 secret;
// its trainer child gets an allow-listed environment without it; a task prints the secret (read from
// a file) and other credentials to stderr and kills the trainer: the crash report reaches the workflow
// history and `durable-fit status` only as a redacted tail, and the worker log only redacted.
import type { TrainModel } from '../../src/contract';
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client } from '@temporalio/client';
import { secretValues, resolveOptions } from '../../src/config/options';
import { CRASH_TAIL_MAX, TrainerCrashedError } from '../../src/training/errors';
import { REDACTED, redactSecrets, secretFragments } from '../../src/training/redact';
import { trainerEnvironment } from '../../src/training/trainer-env';
import { testStack } from '../helpers/stack-env';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';
import type { WorkerProcess } from '../helpers/worker-fleet';
import { cli } from '../e2e/cli-helpers';
import { LEAK_FILE_ENV, UNCONFIGURED_TOKEN } from './secrets-crash-task';

const taskQueue = `secrets-${process.pid}`;
const logDir = path.resolve('test-artifacts', 'security', `secrets-${process.pid}`);
const { s3 } = testStack();
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-secrets-'));
const leakFile = path.join(scratch, 'mounted-secret');
let client: Client;
let close: () => Promise<void>;
let fleet: WorkerFleet;
let worker: WorkerProcess;

before(async () => {
  fs.writeFileSync(leakFile, s3.secretKey, { mode: 0o600 });
  ({ client, close } = await testClient());
  const env = {
    ...testEnv(),
    AWS_SECRET_ACCESS_KEY: s3.secretKey, // a second name for it, as many deployments have
    DFIT_TASK_MODULES: path.resolve('test/security/secrets-crash-task.ts'),
    [LEAK_FILE_ENV]: leakFile,
  };
  fleet = new WorkerFleet(env, taskQueue, logDir);
  worker = await fleet.start();
});
after(async () => {
  await fleet.stopAll();
  await close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

test("the trainer child's environment has no S3 secret (read from /proc/<pid>/environ)", () => {
  const trainer = descendants(worker.child.pid as number).find((pid) =>
    cmdline(pid).includes('trainer-child'),
  );
  assert.ok(trainer, 'the worker has started its trainer child');
  const environ = fs.readFileSync(`/proc/${trainer}/environ`, 'utf8').split('\0');
  const names = environ.map((e) => e.slice(0, e.indexOf('=')));
  assert.ok(names.includes('PATH') && names.includes(LEAK_FILE_ENV), `allowed variables pass: ${names}`);
  for (const name of [
    'DFIT_S3_SECRET_KEY',
    'AWS_SECRET_ACCESS_KEY',
    'DFIT_S3_ACCESS_KEY',
    'TEMPORAL_ADDRESS',
  ])
    assert.ok(!names.includes(name), `${name} is not passed`);
  assert.ok(!environ.some((e) => e.includes(s3.secretKey)), 'no variable holds the secret');
  // The worker itself does hold it: the check above looked at the right kind of process.
  assert.ok(fs.readFileSync(`/proc/${worker.child.pid}/environ`, 'utf8').includes(s3.secretKey));
});

test('a trainer that prints secrets and crashes: history, status and worker log show only the redacted tail', async () => {
  const workflowId = `secrets-crash-${Date.now()}`;
  const spec = {
    task: 'leaky-crash',
    epochs: 1,
    seed: 1,
    recovery: { maxCrashRecoveries: 0, maxInfraRetries: 0 },
  };
  const err = await client.workflow
    .execute<TrainModel>(TRAIN_MODEL, { taskQueue, workflowId, args: [spec] })
    .then(
      () => assert.fail('the run should fail'),
      (e: unknown) => e,
    );
  assert.ok(err instanceof WorkflowFailedError, String(err));

  const handle = client.workflow.getHandle(workflowId);
  const history = JSON.stringify(await handle.fetchHistory());
  const payloads = [...history.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)].map((m) =>
    Buffer.from(m[1] ?? '', 'base64').toString(),
  );
  const described = JSON.stringify((await handle.describe()).raw);
  const status = await cli(['status', workflowId], taskQueue);
  const statusJson = await cli(['status', workflowId, '--json'], taskQueue);
  const workerLog = fs.readFileSync(path.join(logDir, `${worker.identity}.log`), 'utf8');

  // Not vacuous: the crash report and the child's stderr did reach each place, masked.
  assert.match(history, /leak-marker: the S3 secret is \*\*\*/, 'the crash tail is in the history');
  assert.match(status.stdout + status.stderr, /leak-marker/, `status shows why it failed: ${status.stdout}`);
  assert.match(workerLog, /leak-marker: the S3 secret is \*\*\*/);
  assert.match(
    workerLog,
    /child-env-holds-it: no/,
    'the child could not read the secret from its environment',
  );
  assert.match(workerLog, /AWS_SECRET_ACCESS_KEY=\*\*\*/);
  const places = {
    history,
    described,
    status: status.stdout + status.stderr,
    statusJson: statusJson.stdout,
    workerLog,
  };
  for (const [where, text] of Object.entries({ ...places, payloads: payloads.join('\n') })) {
    assert.ok(!text.includes(s3.secretKey), `the S3 secret is not in the ${where}`);
    assert.ok(!text.includes(UNCONFIGURED_TOKEN), `the credential-shaped token is not in the ${where}`);
  }
});

test('what the worker masks: its configured secrets, credential assignments, bearer tokens; tails are capped', () => {
  const options = resolveOptions({
    ...testEnv(),
    DFIT_CKPT_SIGNING_KEY: 'k1:0123456789abcdef0123456789abcdef',
  });
  const secrets = secretFragments(secretValues(options));
  assert.ok(secrets.includes(s3.secretKey) && secrets.includes('0123456789abcdef0123456789abcdef'));
  const text = [
    `s3 ${s3.secretKey}`,
    'key k1:0123456789abcdef0123456789abcdef',
    'PASSWORD=hunter22 db_token: "abc def"',
    "{'secretKey': 'xyz123456'}",
    'Authorization: Bearer eyJhbGciOi.x.y',
    'loss=0.25 step=3',
  ].join('\n');
  const masked = redactSecrets(text, secrets);
  for (const leak of [s3.secretKey, '0123456789abcdef', 'hunter22', 'abc def', 'xyz123456', 'eyJhbGciOi'])
    assert.ok(!masked.includes(leak), `${leak} masked in: ${masked}`);
  assert.match(masked, /loss=0\.25 step=3/, 'ordinary output is kept');
  assert.ok(masked.includes(`PASSWORD=${REDACTED}`));

  const crash = new TrainerCrashedError(1, null, `${'x'.repeat(5000)}\nTOKEN=abc123\nthe end`);
  assert.ok(crash.stderrTail.length <= CRASH_TAIL_MAX + 1, `tail of ${crash.stderrTail.length} characters`);
  assert.match(crash.message, /TOKEN=\*\*\*\nthe end; resume from the last checkpoint$/);

  const env = trainerEnvironment(
    {
      PATH: '/bin',
      TF_NUM_INTRAOP_THREADS: '2',
      DFIT_BACKEND: 'cpu',
      DFIT_S3_SECRET_KEY: 'a',
      DFIT_CKPT_SIGNING_KEY: 'b',
      DFIT_ENCRYPTION_KEYS: 'c',
      GITHUB_TOKEN: 'd',
      DFIT_TEST_STACK: `{"secretKey":"${s3.secretKey}"}`,
      SHELL: '/bin/sh',
    },
    secrets,
  );
  assert.deepEqual(Object.keys(env).sort(), ['DFIT_BACKEND', 'PATH', 'TF_NUM_INTRAOP_THREADS']);
});

/** Every process below `pid` (children, grandchildren…), from /proc. */
function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => (children.get(p) ?? []).forEach((c) => (out.push(c), walk(c)));
  walk(pid);
  return out;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}
