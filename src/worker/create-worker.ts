/** Builds a durable-fit training worker from resolved options (the `durable-fit worker` command uses it). */
import { NativeConnection, Worker } from '@temporalio/worker';
import { createProcessEngine } from '../../activities/process-engine';
import type { EpochEngine } from '../../activities/epoch-engine';
import { createStore } from '../checkpoint/create-store';
import type { DurableFitOptions, Env } from '../config/options';
import { temporalConnectConfig } from '../config/temporal';
import type { BackendRequest } from '../training/backend';
import { DurableTrainingPlugin } from './plugin';
import { loadTaskModules } from '../training/tasks/load-modules';

export interface CreateWorkerOptions {
  /** Engine to train with. @default a trainer child process on `options.backend` */
  engine?: EpochEngine;
  /** Training activities at once. @default 1 */
  maxConcurrentTrainings?: number;
  /** Worker identity shown in the Web UI. @default Temporal's `pid@host` */
  identity?: string;
}

export async function createWorker(
  options: DurableFitOptions,
  env: Env,
  extra: CreateWorkerOptions = {},
): Promise<{ worker: Worker; connection: NativeConnection }> {
  const config = temporalConnectConfig(options, env);
  const connection = await NativeConnection.connect(config.connectionOptions);
  loadTaskModules(options.taskModules); // prepareRun validates hparams with the task registry here
  const engine =
    extra.engine ??
    createProcessEngine({ backend: options.backend as BackendRequest, taskModules: options.taskModules });
  await engine.backend(); // start the trainer (and load its backend) now, not in the first recovery
  const plugin = new DurableTrainingPlugin({
    store: createStore(options),
    engine,
    maxConcurrentTrainings: extra.maxConcurrentTrainings,
  });
  const worker = await Worker.create({
    connection,
    namespace: config.namespace ?? options.namespace,
    taskQueue: options.taskQueue,
    ...(extra.identity ? { identity: extra.identity } : {}),
    plugins: [plugin],
  });
  return { worker, connection };
}
