/**
 * `DurableTrainingPlugin`: adds durable-fit's activities and worker defaults to any Temporal worker.
 * A host with workflows of its own keeps them: its workflows file re-exports ours
 * (`export * from 'durable-fit/workflows'`); a host with none gets ours.
 */
import { SimplePlugin } from '@temporalio/plugin';
import type { DataConverter } from '@temporalio/common';
import type { BundleOptions, WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../../activities';
import type { ActivityDeps } from '../../activities';

export interface DurableTrainingPluginOptions extends ActivityDeps {
  /**
   * Training activities one worker process runs at once. Training is CPU/GPU bound, so one per
   * process (and more processes) is the sensible default. @default 1
   */
  maxConcurrentTrainings?: number;
  /** How long a shutting-down worker lets activities save their preemption checkpoint. @default '60s' */
  shutdownForceTime?: WorkerOptions['shutdownForceTime'];
  /**
   * How long a workflow task waits for the worker that has the run cached before any worker may take
   * it (with a replay). The worker whose epoch was killed is usually that worker, and the server keeps
   * sending it the run's tasks for ~10 s after its last poll: each recovery after a heartbeat timeout
   * under ~10 s waits this long (the SDK's default is 10 s). Measured with the dev server, the wait
   * is 1.0 s whether this asks for 300 ms or 1 s (README: How long a crash costs). @default '300ms'
   */
  stickyQueueScheduleToStartTimeout?: WorkerOptions['stickyQueueScheduleToStartTimeout'];
  /**
   * Longest gap between heartbeats sent to the server. Fresh heartbeats keep progress current in
   * the UI and CLI and deliver pause/cancel quickly; the SDK's default waits up to 0.8 × timeout. @default '1s'
   */
  maxHeartbeatThrottleInterval?: WorkerOptions['maxHeartbeatThrottleInterval'];
  /**
   * What this worker serves: `all` (workflows and every activity, on the shared task queue) or
   * `epochs` (only `trainEpoch`/`resumeEpoch` and the data-parallel `initParallel`/`trainShard`/
   * `aggregateRound`, on the backend queue named by `route`). @default 'all'
   */
  role?: 'all' | 'epochs';
  /**
   * Close the engine when this worker stops. Pass false when two workers share one engine (the
   * shared-queue and backend-queue workers of one process) and close it after both. @default true
   */
  closeEngine?: boolean;
  /**
   * Payload encryption (and anything else a data converter does) for this worker: pass
   * `dataConverterFor(options)` from durable-fit's security module, and give the client the same one.
   * Failure messages are encrypted too (README: Security). @default none: payloads in clear text
   */
  dataConverter?: DataConverter;
}

/** durable-fit's workflows module (`durable-fit/workflows`), compiled or in source form. */
export const DURABLE_FIT_WORKFLOWS = require.resolve('../../workflows');

/**
 * Use it on your own worker:
 * `Worker.create({ connection, taskQueue, workflowsPath, plugins: [new DurableTrainingPlugin({ store, runs, engine })] })`
 * (`{ store, runs }` from `createStorage(options)`),
 * where your workflows file has `export * from 'durable-fit/workflows'` next to your own workflows
 * (README: Use it in your own worker). Without a `workflowsPath` the worker runs durable-fit's alone.
 * For a fleet of mixed backends, also pass `route` and run a second worker on that queue with
 * `role: 'epochs'` (README: Routing; `createWorker` does both).
 */
export class DurableTrainingPlugin extends SimplePlugin {
  constructor(private readonly pluginOptions: DurableTrainingPluginOptions) {
    const activities = createActivities(pluginOptions);
    const epochsOnly = pluginOptions.role === 'epochs';
    super({
      name: 'durable-fit',
      ...(pluginOptions.dataConverter ? { dataConverter: pluginOptions.dataConverter } : {}),
      activities: epochsOnly
        ? {
            trainEpoch: activities.trainEpoch,
            resumeEpoch: activities.resumeEpoch,
            // Data-parallel runs: shards and merges go to the run's backend queue too.
            initParallel: activities.initParallel,
            trainShard: activities.trainShard,
            aggregateRound: activities.aggregateRound,
          }
        : activities,
      // The host's own workflowsPath wins (it re-exports ours); only a worker without one gets ours.
      ...(epochsOnly ? {} : { workflowsPath: (host?: string) => host ?? DURABLE_FIT_WORKFLOWS }),
      runContext: async (next) => {
        try {
          await next();
        } finally {
          if (pluginOptions.closeEngine !== false) await pluginOptions.engine.close();
        }
      },
    });
  }

  /** A host that bundles its workflows ahead of time gets the encrypting failure converter in the bundle. */
  override configureBundler(options: BundleOptions): BundleOptions {
    const configured = super.configureBundler(options);
    const failureConverterPath = this.pluginOptions.dataConverter?.failureConverterPath;
    if (!failureConverterPath || configured.failureConverterPath) return configured;
    return { ...configured, failureConverterPath };
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    // A prebuilt bundle is the host's workflows too: adding our path would make the worker refuse both.
    if (options.workflowBundle) delete configured.workflowsPath;
    return {
      ...configured,
      maxConcurrentActivityTaskExecutions:
        options.maxConcurrentActivityTaskExecutions ?? this.pluginOptions.maxConcurrentTrainings ?? 1,
      shutdownForceTime: options.shutdownForceTime ?? this.pluginOptions.shutdownForceTime ?? '60s',
      stickyQueueScheduleToStartTimeout:
        options.stickyQueueScheduleToStartTimeout ??
        this.pluginOptions.stickyQueueScheduleToStartTimeout ??
        '300ms',
      maxHeartbeatThrottleInterval:
        options.maxHeartbeatThrottleInterval ?? this.pluginOptions.maxHeartbeatThrottleInterval ?? '1s',
    };
  }
}
