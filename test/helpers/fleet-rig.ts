/**
 * A fault test file's client and worker processes (`WorkerFleet`): on the shared test stack
 * (`startFleet`), or, for tests that stop, pause or restart servers on purpose, on a Temporal dev
 * server and MinIO of the file's own (`startOwnStack`).
 */
import type { Client } from '@temporalio/client';
import { resolveOptions } from '../../src/config/options';
import { testStack } from './stack-env';
import type { TestStack } from './stack-env';
import { startTestStack } from './start-test-stack';
import type { RunningTestStack } from './start-test-stack';
import { testClient, testEnv } from './training';
import { WorkerFleet } from './worker-fleet';

export interface Fleet {
  client: Client;
  fleet: WorkerFleet;
  /** Stops the workers and closes the client (and stops the servers of an own stack). */
  stop(): Promise<void>;
}

export interface OwnStack extends Fleet {
  running: RunningTestStack;
}

export interface FleetOptions {
  taskQueue: string;
  /** Where the workers' logs go. */
  logDir: string;
  /** Worker processes started. @default 1 */
  workers?: number;
  /** Added to the workers' environment (which reaches the stack). */
  env?: NodeJS.ProcessEnv;
  /** The workers' tfjs backend. @default WorkerFleet's */
  backend?: string;
}

/** A client and `workers` worker processes on the shared test stack (or `stack`). */
export async function startFleet(options: FleetOptions, stack: TestStack = testStack()): Promise<Fleet> {
  const { client, close } = await testClient(stack);
  const env = { ...testEnv(stack), ...options.env };
  const fleet = new WorkerFleet(env, options.taskQueue, options.logDir, options.backend);
  const stop = async () => {
    await fleet.stopAll();
    await close();
  };
  try {
    await Promise.all(Array.from({ length: options.workers ?? 1 }, () => fleet.start()));
  } catch (err) {
    await stop();
    throw err;
  }
  return { client, fleet, stop };
}

/** `startFleet` on servers of the file's own; `stop()` stops them too. */
export async function startOwnStack(options: FleetOptions): Promise<OwnStack> {
  const running = await startTestStack(resolveOptions(process.env).toolsDir);
  let started: Fleet;
  try {
    started = await startFleet(options, running.stack);
  } catch (err) {
    await running.stop(); // a worker that did not start leaves no server behind
    throw err;
  }
  return {
    ...started,
    running,
    async stop() {
      await started.stop();
      await running.stop();
    },
  };
}
