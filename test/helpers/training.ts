/** Helpers for tests that train through Temporal: options for the test stack, workers, golden runs. */
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { Worker } from '@temporalio/worker';
import type { DurableFitOptions } from '../../src/config/options';
import { resolveOptions } from '../../src/config/options';
import type { SkipWindow, TrainingSpec, TrainingSpecInput } from '../../src/spec';
import { parseSpec } from '../../src/spec';
import { finalizeState } from '../../src/training/capture';
import { runSession } from '../../src/training/run-loop';
import { Trainer } from '../../src/training/trainer';
import type { BackendRequest } from '../../src/training/backend';
import { createWorker } from '../../src/worker/create-worker';
import type { CreateWorkerOptions } from '../../src/worker/create-worker';
import { testStack } from './stack-env';
import type { TestStack } from './stack-env';

/** Options pointing at the test stack, with a task queue of the test's own. */
export function testOptions(taskQueue: string, backend: BackendRequest = 'cpu'): DurableFitOptions {
  const stack = testStack();
  return resolveOptions(testEnv(), { taskQueue, backend, temporalAddress: stack.temporalAddress });
}

/** Environment a worker or CLI process needs to reach the test stack. */
export function testEnv(stack: TestStack = testStack()): NodeJS.ProcessEnv {
  const { s3, temporalAddress, namespace } = stack;
  return {
    ...process.env,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
    DFIT_S3_ENDPOINT: s3.endpoint,
    DFIT_S3_BUCKET: s3.bucket,
    DFIT_S3_ACCESS_KEY: s3.accessKey,
    DFIT_S3_SECRET_KEY: s3.secretKey,
  };
}

export async function testClient(
  stack: TestStack = testStack(),
): Promise<{ client: Client; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: stack.temporalAddress });
  return { client: new Client({ connection, namespace: stack.namespace }), close: () => connection.close() };
}

let runtimeInstalled = false;

/**
 * Starts an in-process worker (the one worker set-up of the tests); `stop()` shuts it down and waits.
 * `env` is what the worker reads its connections from: the test stack's unless a test has its own
 * (a TLS proxy, a MinIO user of its own).
 */
export async function startTestWorker(
  options: DurableFitOptions,
  extra: CreateWorkerOptions = {},
  env: NodeJS.ProcessEnv = testEnv(),
) {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') }); // keep test output readable
    runtimeInstalled = true;
  }
  return runWorker(options, env, extra);
}

/** A test file's client and in-process worker on the test stack (`before`); `stop()` in `after`. */
export interface TestRig {
  client: Client;
  worker: Awaited<ReturnType<typeof startTestWorker>>;
  stop(): Promise<void>;
}

/** Connects a client and starts an in-process worker (`startTestWorker`'s arguments). */
export async function startTestRig(
  options: DurableFitOptions,
  extra: CreateWorkerOptions = {},
  env: NodeJS.ProcessEnv = testEnv(),
): Promise<TestRig> {
  const { client, close } = await testClient();
  const worker = await startTestWorker(options, extra, env);
  return {
    client,
    worker,
    async stop() {
      await worker.stop();
      await close();
    },
  };
}

/**
 * `startTestWorker` for a process that installs the worker runtime itself (the bench): creates the
 * worker, runs it, and `stop()` shuts it down, waits for it and closes its connection.
 */
export async function runWorker(
  options: DurableFitOptions,
  env: NodeJS.ProcessEnv,
  extra: CreateWorkerOptions = {},
) {
  const created = await createWorker(options, env, extra);
  const running = created.run(); // both the shared-queue and the backend-queue worker
  return {
    worker: created.worker as Worker,
    route: created.route,
    async stop() {
      created.shutdown();
      await running;
      await created.connection.close();
    },
  };
}

/** The weights hash of an uninterrupted run of `spec`, trained directly in this process. */
export async function goldenWeightsSha256(
  input: TrainingSpecInput,
  backend: BackendRequest = 'cpu',
  skips?: SkipWindow[],
): Promise<string> {
  const spec: TrainingSpec = parseSpec(input, 'golden');
  const trainer = await Trainer.create({ backend });
  const session = trainer.open({
    task: spec.task,
    hparams: spec.hparams,
    seed: spec.seed,
    batchSize: spec.batchSize,
    epochs: spec.epochs,
    // An uninterrupted run that skips the data windows a divergence rollback skipped.
    ...(spec.divergence ? { divergence: spec.divergence } : {}),
    ...(skips?.length ? { skips } : {}),
  });
  try {
    const outcome = await runSession(session);
    return finalizeState(outcome.state).meta.weightsSha256;
  } finally {
    session.dispose();
  }
}
