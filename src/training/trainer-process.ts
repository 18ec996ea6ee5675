/**
 * `TrainerProcess`: the parent side of the trainer child. CPU-bound tfjs runs in the child, so the
 * host's event loop (a Temporal worker's heartbeats) stays free. The child's phase-1 states are
 * finished here (weightsSha256); a child that dies is reported as `TrainerCrashedError`.
 */
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BackendInfo } from '../state';
import type { BackendRequest } from './backend';
import {
  CRASH_TAIL_MAX,
  TrainerBusyError,
  TrainerCrashedError,
  TrainerHungError,
  TrainerRemoteError,
} from './errors';
import type { ObjectClient } from '../storage/object-client';
import { serveDatasetRead } from './ipc-object-client';
import type { JobRequest, SerializedError, TrainerEvent, TrainerRequest } from './protocol';
import { serializeError } from './protocol';
import type { BatchProgress, EpochEnd, RunOutcome } from './run-loop';
import { createTransferDir, removeTransferDir } from './state-transfer';
import { compactTensors } from './tensor-bytes';
import { TrainerJob } from './trainer-job';
import type { MemoryCap, TrainerCgroup } from './memory-cap';
import { RedactingLines, redactedTail } from './redact';
import { trainerEnvironment } from './trainer-env';
import type { TrainerWatchdog } from './trainer-watchdog';
import { watchTrainer } from './trainer-watchdog';

export interface TrainerProcessOptions {
  /** tfjs backend for the child (entry points pass DFIT_BACKEND). @default 'auto' */
  backend?: BackendRequest;
  /**
   * Environment to take the child's from: only its allow-listed part reaches the child
   * (trainer-env.ts). @default process.env
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Secret values (S3 secret key, signing and encryption keys): no variable holding one reaches the
   * child, and they are masked in its stderr and crash reports. @default []
   */
  secrets?: readonly string[];
  /**
   * Called with the child's stderr, whole lines, secrets masked; keep it quiet in tests.
   * @default writes to process.stderr
   */
  onStderr?(chunk: string): void;
  /** Absolute paths of modules that register user tasks; the child loads them first. @default [] */
  taskModules?: string[];
  /**
   * A child that uses no CPU time and sends nothing for this long while it starts or runs a job is
   * hung (stopped, deadlocked): it is killed and the run fails with `TrainerHungError`. @default 60000
   */
  hangTimeoutMs?: number;
  /** Where large states are handed over (a private folder is made inside). @default os.tmpdir() */
  transferBase?: string;
  /**
   * The bucket whose datasets (`datasets/…` only) this process reads for the child, which streams
   * them for tasks with `data` (docs/datasets.md). Absent: such tasks are refused in the child.
   */
  datasets?: ObjectClient;
  /**
   * Runs the child in a memory cgroup of its own with this cap's limit (memory-cap.ts), removed
   * when the child exits; a child the limit killed fails with a `TrainerCrashedError` that says so.
   * @default none (no limit)
   */
  memoryCap?: MemoryCap;
}

/** @see TrainerProcessOptions.hangTimeoutMs */
export const DEFAULT_HANG_TIMEOUT_MS = 60_000;

export interface JobHandlers {
  onProgress?(progress: BatchProgress): void;
  /** Each finished epoch, with its complete state (hash included). */
  onEpochEnd?(end: EpochEnd): void;
}

/** Raw stderr kept for a crash report; redacted before it is cut to `CRASH_TAIL`. */
const STDERR_KEEP = 8000;

export class TrainerProcess {
  private current: TrainerJob | undefined;
  private nextJobId = 1;
  private stderrTail = '';
  private exited: Error | undefined;
  private closing = false;
  private starting = true;
  private hung: TrainerHungError | undefined;
  private readonly exitPromise: Promise<void>;
  private readonly watchdog: TrainerWatchdog | undefined;
  backend!: BackendInfo;

  private constructor(
    private readonly child: ChildProcess,
    options: TrainerProcessOptions,
    private readonly transferDir: string,
    private readonly cgroup: TrainerCgroup | undefined,
  ) {
    this.datasets = options.datasets;
    const onStderr = options.onStderr ?? ((chunk: string) => process.stderr.write(chunk));
    const secrets = options.secrets ?? [];
    const lines = new RedactingLines((text) => onStderr(text), secrets);
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-STDERR_KEEP);
      lines.push(chunk);
    });
    this.exitPromise = new Promise((resolve) => {
      // 'close', not 'exit': by then all of its stderr has arrived, so the crash report has the end.
      child.once('close', (code, signal) => {
        this.watchdog?.stop();
        removeTransferDir(transferDir);
        lines.flush();
        const tail = redactedTail(this.stderrTail, CRASH_TAIL_MAX, secrets);
        const killedBy = cgroup?.killedByLimit();
        cgroup
          ?.remove()
          .catch((err: unknown) => onStderr(`could not remove ${cgroup.dir}: ${String(err)}\n`));
        const exited = this.hung ?? new TrainerCrashedError(code, signal, tail, killedBy);
        this.exited = exited;
        this.current?.fail(this.closing ? new Error('trainer process closed during a run') : exited);
        this.current = undefined;
        resolve();
      });
    });
    child.on('message', (message) => {
      this.watchdog?.touch();
      this.dispatch(message as TrainerEvent);
    });
    if (child.pid !== undefined) {
      const hangTimeoutMs = options.hangTimeoutMs ?? DEFAULT_HANG_TIMEOUT_MS;
      this.watchdog = watchTrainer({
        pid: child.pid,
        hangTimeoutMs,
        isBusy: () => this.starting || this.current !== undefined,
        onHung: (detail) => {
          this.hung = new TrainerHungError(child.pid ?? -1, hangTimeoutMs, detail);
          child.kill('SIGKILL');
        },
      });
    }
  }

  /** Forks the trainer child and waits until its backend is loaded. */
  static async start(options: TrainerProcessOptions = {}): Promise<TrainerProcess> {
    const ext = path.extname(__filename);
    const transferDir = createTransferDir(options.transferBase ?? os.tmpdir());
    const cgroup = options.memoryCap?.create();
    const child = fork(path.join(__dirname, `trainer-child${ext}`), [], {
      // In source form (.ts) the child runs through tsx, as the rest of durable-fit does.
      execArgv: ext === '.ts' ? ['--import', pathToFileURL(require.resolve('tsx')).href] : [],
      serialization: 'advanced',
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      env: trainerEnvironment(options.env ?? process.env, options.secrets),
    });
    // Into its cgroup at once, before it loads tfjs: what it allocates from here on is limited.
    try {
      if (cgroup && child.pid !== undefined) cgroup.add(child.pid);
    } catch (err) {
      child.kill('SIGKILL');
      removeTransferDir(transferDir);
      await cgroup?.remove().catch(() => undefined);
      throw err;
    }
    const trainer = new TrainerProcess(child, options, transferDir, cgroup);
    try {
      trainer.backend = await trainer.waitReady(options.backend ?? 'auto', options.taskModules ?? []);
    } finally {
      trainer.starting = false;
    }
    return trainer;
  }

  /** Whether the child is still running. */
  get alive(): boolean {
    return this.exited === undefined;
  }

  /** The child's memory cgroup folder, when it runs under a memory cap. */
  get memoryCgroup(): string | undefined {
    return this.cgroup?.dir;
  }

  /** The child's process id (for fault tests that kill it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Starts a run; one at a time per process. */
  run(request: JobRequest, handlers: JobHandlers = {}): TrainerJob {
    if (this.exited) throw this.exited;
    if (this.current)
      throw new TrainerBusyError('this trainer process is already running a run; wait for it or stop it');
    const jobId = this.nextJobId++;
    const from = request.from && { meta: request.from.meta, tensors: compactTensors(request.from.tensors) };
    const run = new TrainerJob(
      jobId,
      handlers,
      (m) => this.send(m),
      () => (this.current = undefined),
    );
    this.watchdog?.touch();
    this.current = run;
    const epochEnds = handlers.onEpochEnd !== undefined; // full states only where someone reads them
    this.send({
      type: 'job',
      jobId,
      ...request,
      ...(from ? { from } : {}),
      ...(epochEnds ? { epochEnds } : {}),
    });
    return run;
  }

  /**
   * Tells the child that the end state of job `jobId` was saved as this checkpoint, so a later run
   * with `continueFrom` that checkpoint may adopt its warm continuation (see `JobRequest.speculate`).
   */
  keep(jobId: number, saved: { sha256: string; url: string }): void {
    this.send({ type: 'keep', jobId, ...saved });
  }

  /** Asks the child to exit after its current batch boundary; kills it if it does not in time. */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.exited) return;
    this.closing = true;
    this.current?.stop().catch(() => undefined);
    if (this.child.connected) this.send({ type: 'shutdown' });
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  private waitReady(backend: BackendRequest, taskModules: string[]): Promise<BackendInfo> {
    return new Promise((resolve, reject) => {
      this.onReady = { resolve, reject };
      void this.exitPromise.then(() => reject(this.exited));
      const datasetBucket = this.datasets?.bucket;
      this.send({
        type: 'init',
        backend,
        taskModules,
        transferDir: this.transferDir,
        ...(datasetBucket !== undefined ? { datasetBucket } : {}),
      });
    });
  }

  private onReady: { resolve(b: BackendInfo): void; reject(e: Error): void } | undefined;
  private readonly datasets: ObjectClient | undefined;

  /** Reads a dataset object for the child; the answer goes back whatever happens. */
  private serveDataset(requestId: number, key: string): void {
    serveDatasetRead(this.datasets, key).then(
      (bytes) => this.send({ type: 'dataset-bytes', requestId, bytes }),
      (error: unknown) => this.send({ type: 'dataset-bytes', requestId, error: serializeError(error) }),
    );
  }

  private dispatch(event: TrainerEvent): void {
    if (event.type === 'ready') return this.onReady?.resolve(event.backend);
    if (event.type === 'dataset-read') return this.serveDataset(event.requestId, event.key);
    if (event.type === 'error' && event.jobId === undefined) {
      this.onReady?.reject(toError(event.error));
      this.child.kill('SIGKILL');
      return;
    }
    if (event.type !== 'error' || event.jobId !== undefined) this.current?.handle(event);
  }

  private send(message: TrainerRequest): void {
    if (this.child.connected) this.child.send(message);
  }
}

/** A child's error as a local one, keeping the original name for error mapping. */
export function toError(error: SerializedError): TrainerRemoteError {
  return new TrainerRemoteError(error.name, error.message, error.stack, error.failureKind, error.data);
}

export type { RunOutcome };
