/**
 * `npm start`: the whole story on the local default stack. Brings Temporal + MinIO up (building them
 * first if needed) and native TensorFlow (when missing; scripts/start-native.ts), starts two
 * `durable-fit worker` processes, imports the mnist digits as the dataset `mnist` (once;
 * scripts/start-dataset.ts), trains `mnist-cnn-stream` from it on native TF (`mnist-mlp-stream` on
 * wasm without it),
 * SIGKILLs the worker that is mid-epoch, and narrates how the run resumes on the other worker from
 * the last durable `.ckpt`. Exits 0 when the run completes; stops its workers; leaves the stack up.
 * Ctrl-C at any point stops the workers (their trainer children die with them) and the demo run.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { connectClient, startTraining } from '../src/client';
import { readRun, uiLink } from '../src/cli/render/run-state';
import { watchRun } from '../src/cli/render/watch-view';
import { resolveOptions } from '../src/config/options';
import type { TrainingSpecInput } from '../src/spec';
import { stackUp } from '../src/stack/stack';
import { CNN_SPEC, prepareNative } from './start-native';
import { ensureMnistDataset, streamedSpec } from './start-dataset';

const MLP_SPEC: TrainingSpecInput = {
  task: 'mnist-mlp',
  epochs: 4,
  seed: 1,
  batchSize: 32,
  // 9,000 training digits (the mnist package ships 10,000), a wide hidden layer so an epoch lasts
  // long enough on 2 cores to be caught mid-way.
  hparams: { trainSize: 9000, valSize: 1000, hidden: 512, learningRate: 0.001 },
  checkpoint: { everyBatches: 60, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 4, backoffSeconds: 0 },
};
/**
 * mnist-cnn on native TensorFlow when it is built (scripts/start-native.ts), else mnist-mlp on wasm;
 * either trained from the dataset in the bucket (its -stream twin, scripts/start-dataset.ts).
 */
let SPEC = MLP_SPEC;

interface DemoWorker {
  identity: string;
  child: ChildProcess;
  exited: Promise<void>;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const workers = new Map<string, DemoWorker>();
let client: Client | undefined;
let runId: string | undefined;
let finished = false;

async function main(): Promise<number> {
  const started = Date.now();
  const options = resolveOptions(process.env);
  const taskQueue = `durable-fit-demo-${process.pid}`;
  say('▸ durable-fit demo: Temporal + MinIO, two workers, a real training run, and a kill -9');
  if (await prepareNative(options, say)) SPEC = CNN_SPEC;
  const stack = await stackUp(options, (line) => say(`  ${line}`));
  say(`▸ stack up: Temporal ${stack.temporalAddress} · Web UI ${stack.uiUrl} · MinIO ${stack.s3Endpoint}`);
  SPEC = streamedSpec(SPEC, await ensureMnistDataset(options, say));
  const logDir = path.join(options.stateDir, 'logs');
  await Promise.all([1, 2].map((n) => startWorker(`demo-worker-${n}`, taskQueue, logDir)));
  say(`▸ 2 workers polling task queue "${taskQueue}" (logs in ${logDir}/demo-worker-*.log)`);

  client = await connectClient(options, process.env);
  const workflowId = `demo-${SPEC.task}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
  await startTraining(client, SPEC, { workflowId, taskQueue });
  runId = workflowId;
  const ui = uiLink(options.uiUrl, options.namespace, workflowId);
  say(`▸ started ${workflowId}: ${SPEC.epochs} epochs of ${SPEC.task}, seed ${SPEC.seed}`);
  say(`  UI: ${ui}`);
  const chaos = killMidEpoch(client, workflowId);
  const last = await watchRun(client, workflowId, { out: process.stdout, bars: false, intervalMs: 500 });
  finished = true;
  await chaos.catch(() => undefined);
  const result = last.result ?? (await readRun(client, workflowId)).result;
  say('');
  if (!result) {
    say(`✗ the run ended ${last.execution}: ${last.failure ?? ''}`);
    return 1;
  }
  const resumed = result.recoveries.map((r) => `resumed from ${r.fromCkpt} (${r.kind})`);
  say(`✓ done in ${Math.round((Date.now() - started) / 1000)} s: ${resumed.join('; ') || 'no recovery'}`);
  say(`  final accuracy   ${accuracyOf(result.epochs.at(-1)?.metrics ?? {})}`);
  say(`  backend          ${result.backend ?? 'unknown'} (its versions: durable-fit backend status)`);
  say(`  checkpoint       ${result.finalCheckpoint.url}`);
  say(`  see the run      ${ui}`);
  say(`  more             durable-fit status ${workflowId}   (the stack stays up: durable-fit stack down)`);
  return 0;
}

/** Waits until an epoch after the first is well under way with an intra-epoch checkpoint, then kill -9. */
async function killMidEpoch(c: Client, workflowId: string): Promise<void> {
  while (!finished) {
    const run = await readRun(c, workflowId);
    const p = run.pending;
    const d = p?.details;
    if (
      p?.identity &&
      d &&
      d.epoch >= 1 &&
      d.ckpt &&
      d.ckpt.epoch === d.epoch &&
      d.batches > 0 &&
      d.batch >= d.batches / 3
    ) {
      const victim = workers.get(p.identity);
      if (!victim) return;
      say(
        `💥 kill -9 ${victim.identity} (pid ${victim.child.pid}) in epoch ${d.epoch} at batch ${d.batch}/${d.batches}; ` +
          `last durable checkpoint ${d.ckpt.url}`,
      );
      say(
        `  Temporal notices when its heartbeat stops (timeout ${SPEC.recovery?.heartbeatTimeoutSeconds} s)…`,
      );
      victim.child.kill('SIGKILL');
      await victim.exited;
      workers.delete(victim.identity);
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function startWorker(identity: string, taskQueue: string, logDir: string): Promise<void> {
  fs.mkdirSync(logDir, { recursive: true });
  const logFile = path.join(logDir, `${identity}.log`);
  fs.writeFileSync(logFile, '');
  const log = fs.openSync(logFile, 'a');
  const args = ['bin/durable-fit.cjs', 'worker', '--identity', identity, '--task-queue', taskQueue];
  const child = spawn(process.execPath, args, { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  workers.set(identity, { identity, child, exited });
  const deadline = Date.now() + 120_000;
  while (!fs.readFileSync(logFile, 'utf8').includes('polling task queue')) {
    if (child.exitCode !== null || Date.now() > deadline)
      throw new Error(`worker ${identity} did not start; see ${logFile}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function accuracyOf(metrics: Record<string, number>): string {
  const acc = metrics.valAccuracy ?? metrics.accuracy;
  const rest = Object.entries(metrics).map(([k, v]) => `${k} ${v.toFixed(4)}`);
  return acc === undefined ? rest.join(' · ') : `${(acc * 100).toFixed(2)}% (${rest.join(' · ')})`;
}

/** Stops our workers: SIGTERM, then SIGKILL after a grace period. */
async function stopWorkers(graceMs: number): Promise<void> {
  await Promise.all(
    [...workers.values()].map(async (w) => {
      w.child.kill('SIGTERM');
      const timer = setTimeout(() => w.child.kill('SIGKILL'), graceMs);
      await w.exited;
      clearTimeout(timer);
    }),
  );
  workers.clear();
}

async function interrupted(): Promise<never> {
  say('\n▸ interrupted: stopping the workers and the demo run (the stack stays up)');
  finished = true;
  if (client && runId) {
    await client.workflow
      .getHandle(runId)
      .terminate('npm start interrupted')
      .catch(() => undefined);
  }
  await stopWorkers(3000);
  process.exit(130);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.once(signal, () => void interrupted());

main()
  .then(async (code) => {
    await stopWorkers(10_000);
    await client?.connection.close();
    process.exit(code);
  })
  .catch(async (err: unknown) => {
    process.stderr.write(`npm start failed: ${err instanceof Error ? err.message : String(err)}\n`);
    await stopWorkers(3000);
    process.exit(1);
  });
