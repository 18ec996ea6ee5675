/** `DurableTrainingPlugin`: adds durable-fit's workflows and activities to any Temporal worker. */
import { SimplePlugin } from '@temporalio/plugin';
import type { WorkerOptions } from '@temporalio/worker';
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
   * How long a workflow task waits for the worker that has the run cached. A killed worker would
   * otherwise hold up every recovery by the SDK's 10 s default. @default '1s'
   */
  stickyQueueScheduleToStartTimeout?: WorkerOptions['stickyQueueScheduleToStartTimeout'];
  /**
   * Longest gap between heartbeats sent to the server. Fresh heartbeats keep progress current in
   * the UI and CLI and deliver pause/cancel quickly; the SDK's default waits up to 0.8 × timeout. @default '1s'
   */
  maxHeartbeatThrottleInterval?: WorkerOptions['maxHeartbeatThrottleInterval'];
}

/**
 * Use it on your own worker:
 * `Worker.create({ connection, taskQueue, plugins: [new DurableTrainingPlugin({ store, engine })] })`.
 */
export class DurableTrainingPlugin extends SimplePlugin {
  constructor(private readonly pluginOptions: DurableTrainingPluginOptions) {
    super({
      name: 'durable-fit',
      activities: createActivities(pluginOptions),
      workflowsPath: require.resolve('../../workflows'),
      runContext: async (next) => {
        try {
          await next();
        } finally {
          await pluginOptions.engine.close();
        }
      },
    });
  }

  override configureWorker(options: WorkerOptions): WorkerOptions {
    const configured = super.configureWorker(options);
    return {
      ...configured,
      maxConcurrentActivityTaskExecutions:
        options.maxConcurrentActivityTaskExecutions ?? this.pluginOptions.maxConcurrentTrainings ?? 1,
      shutdownForceTime: options.shutdownForceTime ?? this.pluginOptions.shutdownForceTime ?? '60s',
      stickyQueueScheduleToStartTimeout:
        options.stickyQueueScheduleToStartTimeout ??
        this.pluginOptions.stickyQueueScheduleToStartTimeout ??
        '1s',
      maxHeartbeatThrottleInterval:
        options.maxHeartbeatThrottleInterval ?? this.pluginOptions.maxHeartbeatThrottleInterval ?? '1s',
    };
  }
}
