/**
 * The benchmark's own isolated stack: a Temporal dev server and MinIO on free ports with temporary
 * folders (the test stack starter), a client, and real `durable-fit worker` processes. Nothing of
 * the user's stack is touched, and `close()` leaves nothing behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { resolveOptions } from '../src/config/options';
import { TRAIN_MODEL } from '../src/contract';
import type { TrainModel, TrainParallel } from '../src/contract';
import type { TrainingSpecInput } from '../src/spec';
import { startTestStack } from '../test/helpers/start-test-stack';
import type { RunningTestStack } from '../test/helpers/start-test-stack';
import { WorkerFleet } from '../test/helpers/worker-fleet';
import { testEnv } from '../test/helpers/training';

export interface BenchStack {
  running: RunningTestStack;
  /** Environment for worker processes: the stack's addresses and credentials. */
  env: NodeJS.ProcessEnv;
  client: Client;
  /** A fleet of `durable-fit worker` processes on its own task queue. */
  fleet(name: string, backend: string): WorkerFleet;
  startRun(
    taskQueue: string,
    workflowId: string,
    spec: TrainingSpecInput,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<TrainModel>>;
  /** `startRun` for a spec with `parallel`: the handle's result carries the rounds. */
  startParallel(
    taskQueue: string,
    workflowId: string,
    spec: TrainingSpecInput,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<TrainParallel>>;
  close(): Promise<void>;
}

/** Starts the stack; retries, because a free port can be taken between probe and bind. */
export async function startBenchStack(log: (line: string) => void): Promise<BenchStack> {
  const toolsDir = resolveOptions(process.env).toolsDir;
  let running: RunningTestStack | undefined;
  for (let attempt = 1; !running; attempt++) {
    try {
      running = await startTestStack(toolsDir, log);
    } catch (err) {
      if (attempt >= 3) throw err;
      log(`stack start failed (${String(err)}); retrying`);
    }
  }
  const { temporalAddress, namespace } = running.stack;
  const env = testEnv(running.stack);
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace });
  const fleets: WorkerFleet[] = [];
  const stack = running;
  return {
    running: stack,
    env,
    client,
    fleet(name, backend) {
      const fleet = new WorkerFleet(env, `bench-${name}`, path.join(stack.dir, 'workers', name), backend);
      fleets.push(fleet);
      return fleet;
    },
    startRun: (taskQueue, workflowId, spec) =>
      client.workflow.start<TrainModel>(TRAIN_MODEL, { taskQueue, workflowId, args: [spec] }),
    startParallel: (taskQueue, workflowId, spec) =>
      client.workflow.start<TrainParallel>(TRAIN_MODEL, { taskQueue, workflowId, args: [spec] }),
    async close() {
      await Promise.all(fleets.map((f) => f.stopAll()));
      await connection.close();
      await stack.stop();
    },
  };
}

/** The task queue a fleet made by `BenchStack.fleet(name)` polls. */
export const benchQueue = (name: string) => `bench-${name}`;

/** Resident set size of a process and its direct children (the trainer process), in MB. */
export function treeRssMb(pid: number): number {
  return processRssMb(pid) + childrenRssMb(pid);
}

/** Resident set size of the direct children of `pid` (a worker's trainer processes), in MB. */
export function childrenRssMb(pid: number): number {
  return childPids(pid).reduce((sum, p) => sum + processRssMb(p), 0);
}

/** Resident set size of one process in MB; 0 once it has exited. */
export function processRssMb(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0; // the process exited between listing and reading
  }
}

function childPids(pid: number): number[] {
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((tid) => fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').split(/\s+/))
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
