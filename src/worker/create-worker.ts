/**
 * Builds a durable-fit training worker process from resolved options (the `durable-fit worker`
 * command uses it): two Temporal workers on one connection and one engine. One polls the shared
 * task queue (workflows, `prepareRun`, retention); the other polls this backend's queue
 * (`<taskQueue>@<fingerprint>`, src/training/routing.ts) for epochs, so a run's epochs reach only
 * workers that continue its checkpoints bit-exactly. Training slots: `maxConcurrentTrainings`.
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createProcessEngine } from '../../activities/process-engine';
import type { EpochEngine } from '../../activities/epoch-engine';
import { createStorage, s3Connection } from '../checkpoint/create-store';
import { createMinioObjectClient } from '../storage/minio-adapter';
import { DatasetStore } from '../data/dataset-store';
import type { BackendInfo } from '../state';
import { secretValues } from '../config/options';
import type { DurableFitOptions, Env } from '../config/options';
import { NO_METRICS } from '../metrics/recorder';
import type { MetricsRecorder } from '../metrics/recorder';
import { temporalConnectConfig } from '../config/temporal';
import type { BackendRequest } from '../training/backend';
import { processDataConverter } from '../security/codec-data-converter';
import { DurableTrainingPlugin } from './plugin';
import { workerRoute } from '../training/routing';
import { loadTaskModules } from '../training/tasks/load-modules';
import { MemoryCap } from '../training/memory-cap';
import { secretFragments } from '../training/redact';
import { prepareScratch, removeScratch } from './scratch';

export interface CreateWorkerOptions {
  /** Engine to train with (closed when the worker stops). @default trainer child processes on `options.backend` */
  engine?: EpochEngine;
  /** Epochs trained at once, each in its own trainer process (slot). @default 1 */
  maxConcurrentTrainings?: number;
  /** Worker identity shown in the Web UI. @default Temporal's `pid@host` */
  identity?: string;
  /**
   * Route each run's epochs to its backend's queue. Off, epochs run on the shared task queue on any
   * worker: only safe when every worker has the same backend fingerprint. @default true
   */
  routing?: boolean;
  /**
   * Where training, checkpoint and trainer numbers are recorded (labels `backend` and `task` are
   * added here and by the activities). `installRuntimeWithMetrics` (src/metrics) gives one on the
   * Runtime's Prometheus endpoint. @default nothing is recorded
   */
  metrics?: MetricsRecorder;
}

/** A worker process: `run()` until SIGTERM/SIGINT or `shutdown()`; the engine closes after both workers. */
export interface DurableFitWorker {
  /** The shared-queue worker (workflows and short activities). */
  worker: Worker;
  /** The backend-queue worker (epochs); absent when routing is off. */
  epochWorker?: Worker;
  /** This worker's backend queue; absent when routing is off. */
  route?: string;
  /** The backend its trainers loaded, with the versions and settings that fingerprint it. */
  backend: BackendInfo;
  /** Its trainers' memory cap (`options.trainerMemoryLimitBytes`), where one is set. */
  memoryCap?: MemoryCap;
  connection: NativeConnection;
  run(): Promise<void>;
  /** Starts a graceful shutdown of both workers (running epochs save a checkpoint first). */
  shutdown(): void;
}

export async function createWorker(
  options: DurableFitOptions,
  env: Env,
  extra: CreateWorkerOptions = {},
): Promise<DurableFitWorker> {
  // First, so a worker without S3 credentials or with a bad keys file stops before it connects or starts a trainer.
  const { store, runs } = createStorage(options);
  const dataConverter = processDataConverter(options); // encryption on when keys are configured
  // A memory limit the worker cannot enforce stops it here, never silently ignored.
  const memoryCap =
    options.trainerMemoryLimitBytes === undefined || extra.engine
      ? undefined
      : MemoryCap.prepare(options.trainerMemoryLimitBytes);
  const config = temporalConnectConfig(options, env);
  const connection = await NativeConnection.connect(config.connectionOptions);
  loadTaskModules(options.taskModules); // prepareRun validates hparams with the task registry here
  const slots = extra.maxConcurrentTrainings ?? 1;
  // A SIGKILLed worker leaves its trainers' transfer folders behind: remove dead workers' at start.
  const scratch = prepareScratch();
  const metrics = extra.metrics ?? NO_METRICS;
  const datasetObjects = createMinioObjectClient(s3Connection(options), {
    deadline: { baseMs: options.s3DeadlineMs, perMiBMs: options.s3DeadlinePerMiBMs },
  });
  const engine =
    extra.engine ??
    createProcessEngine({
      backend: options.backend as BackendRequest,
      taskModules: options.taskModules,
      slots,
      hangTimeoutMs: options.trainerHangTimeoutMs,
      transferBase: scratch.dir,
      // The trainer children get no credential, and what they print is masked (src/training/redact.ts):
      // the configured secrets, and the S3 secret in use (it may come from a credentials file).
      secrets: secretFragments([...secretValues(options), s3Connection(options).secretKey]),
      metrics,
      ...(memoryCap ? { memoryCap } : {}),
      // The bucket's datasets/ objects, read here for the trainers of tasks that stream a dataset.
      datasets: datasetObjects,
    });
  // Start a trainer (and load its backend) now, not in the first recovery; routing needs its versions.
  const backend = await engine.backendInfo();
  const route = extra.routing === false ? undefined : workerRoute(options.taskQueue, backend);
  const base = {
    connection,
    namespace: config.namespace ?? options.namespace,
    ...(extra.identity ? { identity: extra.identity } : {}),
  };
  const pluginOptions = {
    dataConverter,
    store,
    runs,
    datasets: new DatasetStore(datasetObjects), // prepareRun resolves each run's dataset version
    site: options.s3Endpoint,
    engine,
    maxConcurrentTrainings: slots,
    closeEngine: false,
    metrics: metrics.withLabels({ backend: backend.name }),
  };
  const worker = await Worker.create({
    ...base,
    taskQueue: options.taskQueue,
    plugins: [new DurableTrainingPlugin({ ...pluginOptions, ...(route ? { route } : {}) })],
  });
  const epochWorker = route
    ? await Worker.create({
        ...base,
        taskQueue: route,
        plugins: [new DurableTrainingPlugin({ ...pluginOptions, route, role: 'epochs' })],
      })
    : undefined;
  const workers = epochWorker ? [worker, epochWorker] : [worker];
  const shutdown = () => {
    for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
  };
  return {
    worker,
    ...(epochWorker ? { epochWorker, route } : {}),
    backend,
    ...(memoryCap ? { memoryCap } : {}),
    connection,
    shutdown,
    async run() {
      // One stopping (a signal, or a fatal error) stops the other; the engine outlives both.
      const results = await Promise.allSettled(workers.map((w) => w.run().finally(shutdown)));
      await engine.close();
      removeScratch(scratch.dir);
      const failed = results.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    },
  };
}
