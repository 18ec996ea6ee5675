/**
 * Real worker processes (`durable-fit worker`) for fault tests: start them, find the one running an
 * epoch, SIGKILL or SIGTERM it, and always clean up.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { HeartbeatDetails } from '../../src/contract';

export interface WorkerProcess {
  identity: string;
  child: ChildProcess;
  exited: Promise<void>;
  /** The tfjs backend it trains on (`--backend`). */
  backend: string;
}

export interface StartWorkerOptions {
  /** @default the fleet's backend */
  backend?: string;
  /** `--concurrency`: trainer slots. @default 1 */
  concurrency?: number;
  /**
   * A command the worker runs under, e.g. `['ip', 'netns', 'exec', ns]` (it must exec the worker so
   * that `kill` reaches it). @default [] (started directly)
   */
  launcher?: string[];
}

export class WorkerFleet {
  readonly workers = new Map<string, WorkerProcess>();
  private count = 0;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly taskQueue: string,
    private readonly logDir: string,
    private readonly backend = 'cpu',
  ) {
    fs.mkdirSync(logDir, { recursive: true });
  }

  /** Starts one more worker process and waits until it polls. */
  async start(options: StartWorkerOptions = {}): Promise<WorkerProcess> {
    const backend = options.backend ?? this.backend;
    const identity = `fault-worker-${++this.count}`;
    const logFile = path.join(this.logDir, `${identity}.log`);
    // Appends (a fleet of an earlier run or test may have used the name): readiness reads past this.
    const logStart = fs.existsSync(logFile) ? fs.statSync(logFile).size : 0;
    const log = fs.openSync(logFile, 'a');
    const args = [
      'bin/durable-fit.cjs',
      'worker',
      '--task-queue',
      this.taskQueue,
      '--identity',
      identity,
      '--backend',
      backend,
      '--concurrency',
      String(options.concurrency ?? 1),
    ];
    const command = [...(options.launcher ?? []), process.execPath, ...args];
    const child = spawn(command[0] as string, command.slice(1), {
      env: this.env,
      stdio: ['ignore', log, log],
    });
    fs.closeSync(log);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const worker = { identity, child, exited, backend };
    this.workers.set(identity, worker);
    await this.waitReady(identity, logStart);
    return worker;
  }

  /** Sends `signal` to the worker with that identity and waits for it to exit. */
  async kill(identity: string, signal: NodeJS.Signals): Promise<void> {
    const worker = this.workers.get(identity);
    if (!worker) throw new Error(`no worker ${identity}`);
    worker.child.kill(signal);
    await worker.exited;
    this.workers.delete(identity);
  }

  /** Process ids of the trainer children of the worker with that identity (one per trainer slot). */
  trainerPids(identity: string): number[] {
    const pid = this.workers.get(identity)?.child.pid;
    if (pid === undefined) throw new Error(`no worker ${identity}`);
    let out = '';
    try {
      out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(pid)], { encoding: 'utf8' });
    } catch {
      return []; // ps exits 1 when the worker has no children
    }
    return out
      .split('\n')
      .filter((line) => line.includes('trainer-child'))
      .map((line) => Number(line.trim().split(/\s+/)[0]));
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.workers.keys()].map((id) => this.kill(id, 'SIGKILL')));
  }

  private async waitReady(identity: string, logStart: number): Promise<void> {
    const file = path.join(this.logDir, `${identity}.log`);
    for (let i = 0; i < 600; i++) {
      if (fs.existsSync(file) && fs.readFileSync(file).subarray(logStart).includes('polling task queue'))
        return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`worker ${identity} did not start; see ${file}`);
  }
}

export interface PendingEpoch {
  activityType: string;
  identity: string;
  details?: HeartbeatDetails;
}

/** The running epoch activity of a workflow, with its last heartbeat details, if any. */
export async function pendingEpoch(handle: WorkflowHandle): Promise<PendingEpoch | undefined> {
  const description = await handle.describe();
  const pending = description.raw.pendingActivities?.find((a) => /Epoch$/.test(a.activityType?.name ?? ''));
  if (!pending || !pending.lastWorkerIdentity || pending.state !== 2 /* STARTED */) return undefined;
  const payload = pending.heartbeatDetails?.payloads?.[0];
  const details = payload ? defaultPayloadConverter.fromPayload<HeartbeatDetails>(payload) : undefined;
  return { activityType: pending.activityType?.name ?? '', identity: pending.lastWorkerIdentity, details };
}

/** Polls until `predicate` holds for the running epoch; returns it. */
export async function waitForEpoch(
  handle: WorkflowHandle,
  predicate: (p: PendingEpoch) => boolean,
  timeoutMs = 120_000,
): Promise<PendingEpoch> {
  const deadline = Date.now() + timeoutMs;
  let last: PendingEpoch | undefined;
  while (Date.now() < deadline) {
    const pending = await pendingEpoch(handle);
    if (pending && predicate(pending)) return pending;
    last = pending ?? last;
    await new Promise((r) => setTimeout(r, 50));
  }
  const status = (await handle.describe()).status.name;
  throw new Error(
    `the epoch activity never reached the expected point; workflow ${status}, last seen ${JSON.stringify(last)}`,
  );
}
