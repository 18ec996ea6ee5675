/**
 * What the fault-matrix files share: the run every cell trains (gated-synthetic: every batch sleeps
 * 100 ms while the cell's gate file is missing, so a run sits inside epoch 0 until the cell has put
 * it in its phase and injected the fault; then the gate opens and the rest trains at full speed),
 * and one toxiproxy server per file with a proxy in front of the test stack's MinIO (behind it an
 * S3 hold proxy, so that a cell can stop one chosen upload in flight) or its Temporal frontend.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { defaultRunName } from '../../../src/checkpoint/keys';
import { resolveOptions } from '../../../src/config/options';
import { TRAIN_MODEL } from '../../../src/contract';
import type { TrainModel, TrainParallel } from '../../../src/contract';
import type { TrainingSpecInput } from '../../../src/spec';
import { GATE_ENV } from '../../helpers/gated-task';
import { startS3HoldProxy } from '../../helpers/s3-hold-proxy';
import type { S3HoldProxy } from '../../helpers/s3-hold-proxy';
import { testStack } from '../../helpers/stack-env';
import type { TestStack } from '../../helpers/stack-env';
import { startToxiproxy } from '../../helpers/toxiproxy';
import type { Toxiproxy } from '../../helpers/toxiproxy';
import { goldenWeightsSha256, testClient, testEnv } from '../../helpers/training';
import type { WorkerFleet } from '../../helpers/worker-fleet';
import { ROW_DIR, noteKilledWorker, noteRun, watchLeftovers } from './cell';

/** Batches between two checkpoints. */
export const INTERVAL = 8;
/** How long a batch sleeps while the gate is closed (gated-task's default). */
export const STEP_MS = 100;
export const HEARTBEAT_TIMEOUT_S = 3;
export const BACKOFF_S = 1;
/** The S3 deadline the workers get (DFIT_S3_DEADLINE); the checkpoints here are ~50 KB. */
export const DEADLINE_S = 3;
/** The environment variable that marks a matrix file's worker processes (and their children). */
export const MARKER_ENV = 'DFIT_TEST_MATRIX';
/** 2048 samples of 16: 128 batches an epoch, 12.8 s while gated. */
const HPARAMS = { samples: 2048, features: 16, hidden: 64 };

export function matrixSpec(recovery: Partial<NonNullable<TrainingSpecInput['recovery']>> = {}) {
  return {
    task: 'gated-synthetic',
    epochs: 2,
    seed: 41,
    batchSize: 16,
    hparams: HPARAMS,
    checkpoint: { everyBatches: INTERVAL, everySeconds: 0 },
    recovery: { heartbeatTimeoutSeconds: HEARTBEAT_TIMEOUT_S, backoffSeconds: BACKOFF_S, ...recovery },
  } satisfies TrainingSpecInput;
}

/** The uninterrupted run's final weights (the checkpoint and recovery policy do not change them). */
export function goldenOf(): Promise<string> {
  return goldenWeightsSha256({ ...matrixSpec(), task: 'synthetic' });
}

/** A gate file: closed (absent) holds a run's batches at STEP_MS each. */
export class Gate {
  readonly file: string;
  constructor(dir: string, name: string) {
    this.file = path.join(dir, `gate-${name}`);
  }
  close(): void {
    fs.rmSync(this.file, { force: true });
  }
  open(): void {
    fs.writeFileSync(this.file, 'open');
  }
}

export interface MatrixFile {
  name: string;
  stack: TestStack;
  client: Client;
  toxiproxy: Toxiproxy;
  hold: S3HoldProxy;
  /**
   * Environment for workers: the test stack's, the gated task module, the S3 deadline, and this
   * file's marker (`DFIT_TEST_MATRIX`, which the "no leftovers" check finds its processes by).
   */
  env: NodeJS.ProcessEnv;
  tmp: string;
  logDir: string;
  /** The uninterrupted run's final weights (computed before any cell: it holds this process's CPU). */
  golden: string;
  /** Starts a run of `spec` on `taskQueue` with a unique workflow id (its folder: the cell's). */
  start(
    taskQueue: string,
    cell: string,
    spec: TrainingSpecInput,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<TrainModel>>;
  /** `start` for a spec with `parallel`: the handle's result carries the rounds. */
  startParallel(
    taskQueue: string,
    cell: string,
    spec: TrainingSpecInput,
  ): Promise<WorkflowHandleWithFirstExecutionRunId<TrainParallel>>;
  close(): Promise<void>;
}

/** A matrix run's start options: the cell's unique workflow id, the spec as the one argument. */
function runOptions(taskQueue: string, cell: string, spec: TrainingSpecInput) {
  const args: [TrainingSpecInput] = [spec];
  return { taskQueue, workflowId: `matrix-${cell}-${Date.now()}`, args };
}

/** One file's toxiproxy, S3 hold proxy (in front of MinIO), client and golden weights. */
export async function openMatrixFile(name: string): Promise<MatrixFile> {
  const stack = testStack();
  const golden = await goldenOf();
  const logDir = path.join(ROW_DIR, 'logs', name);
  fs.mkdirSync(logDir, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `dfit-matrix-${name}-`));
  const { client, close } = await testClient(stack);
  const hold = await startS3HoldProxy(stack.s3.endpoint);
  const toxiproxy = await startToxiproxy({
    toolsDir: resolveOptions(process.env).toolsDir,
    logFile: path.join(logDir, 'toxiproxy.log'),
  });
  const marker = `matrix-${name}-${process.pid}`;
  const env: NodeJS.ProcessEnv = {
    ...testEnv(stack),
    DFIT_TASK_MODULES: path.resolve('test/helpers/gated-task.ts'),
    DFIT_S3_DEADLINE: `${DEADLINE_S}s`,
    DFIT_S3_DEADLINE_PER_MIB: '1s',
    [MARKER_ENV]: marker,
  };
  watchLeftovers({ s3: stack.s3, marker: `${MARKER_ENV}=${marker}` });
  return {
    name,
    stack,
    client,
    toxiproxy,
    hold,
    env,
    tmp,
    logDir,
    golden,
    async start(taskQueue, cell, spec) {
      const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, runOptions(taskQueue, cell, spec));
      noteRun(spec.runName ?? defaultRunName(handle.workflowId, handle.firstExecutionRunId));
      return handle;
    },
    async startParallel(taskQueue, cell, spec) {
      const handle = await client.workflow.start<TrainParallel>(
        TRAIN_MODEL,
        runOptions(taskQueue, cell, spec),
      );
      noteRun(spec.runName ?? defaultRunName(handle.workflowId, handle.firstExecutionRunId));
      return handle;
    },
    async close() {
      await toxiproxy.stop();
      await hold.close();
      await close();
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

/** SIGKILLs a worker of `fleet` (recorded for the "no leftovers" check) and waits for it to exit. */
export async function killWorker(fleet: WorkerFleet, identity: string): Promise<void> {
  noteKilledWorker(fleet.workers.get(identity)?.child.pid);
  await fleet.kill(identity, 'SIGKILL');
}

/** Where a worker's log is (WorkerFleet names it after the identity). */
export function workerLog(logDir: string, identity: string): string {
  return path.join(logDir, `${identity}.log`);
}

/** `http://host:port` → `host:port`. */
export function hostPort(endpoint: string): string {
  return new URL(endpoint).host;
}

/** The step in a checkpoint key (`…step=0000072.ckpt`), or -1. */
export function stepInKey(key: string): number {
  return Number(/step=(\d+)/.exec(key)?.[1] ?? -1);
}

export { GATE_ENV };
