// The throwaway host project of package.slow.test.ts: plain JavaScript, as a user without a build
// step writes it, importing only the installed `durable-fit` package and Temporal's own packages.

/** The host's own task, registered when loaded (worker, trainer processes and client alike). */
export const HOST_TASKS = `
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const { z } = require('zod');
const { createSeedSequence, registerTask } = require('durable-fit');

const hparams = z.object({ samples: z.number().int().min(1).default(64) });
registerTask({
  name: 'host-sine',
  hparams,
  buildModel(h, seed) {
    const next = createSeedSequence(seed);
    return tfl.sequential({
      name: 'host',
      layers: [
        tfl.layers.dense({ name: 'hidden', units: 8, activation: 'tanh', inputShape: [1],
          kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }) }),
        tfl.layers.dense({ name: 'out', units: 1,
          kernelInitializer: tfl.initializers.glorotUniform({ seed: next() }) }),
      ],
    });
  },
  loadDataset(h) {
    const split = (n, offset) => {
      const x = Float32Array.from({ length: n }, (_, i) => -1 + (2 * (i + offset)) / n);
      return { x, y: x.map((v) => Math.sin(3 * v)), size: n };
    };
    return { inputShape: [1], labelShape: [1], train: split(h.samples, 0), validation: split(16, 0.5) };
  },
  optimizer: () => ({ kind: 'adam', learningRate: 0.01 }),
  loss: (labels, outputs) => tf.losses.meanSquaredError(labels, outputs),
  metrics: {},
});
`;

/** The host's workflows file: its own workflow next to durable-fit's, the Temporal way. */
export const HOST_WORKFLOWS = `
import { proxyActivities } from '@temporalio/workflow';
export * from 'durable-fit/workflows';

const { hostGreeting } = proxyActivities({ startToCloseTimeout: '1 minute' });

export async function greet(name) {
  return await hostGreeting(name);
}
`;

/** The host's worker: plain Worker.create with its own workflows and activity, plus the plugin. */
export const HOST_WORKER = `
const path = require('node:path');
const { DefaultLogger, NativeConnection, Runtime, Worker } = require('@temporalio/worker');
const { DurableTrainingPlugin, createProcessEngine, createStore, resolveOptions } = require('durable-fit');
require('./tasks');

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const options = resolveOptions(process.env, { backend: 'cpu' });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const engine = createProcessEngine({ backend: 'cpu', taskModules: [path.join(__dirname, 'tasks.js')] });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE,
    taskQueue: process.env.HOST_TASK_QUEUE,
    workflowsPath: require.resolve('./workflows'),
    activities: { hostGreeting: async (name) => 'hello from the host, ' + name },
    plugins: [new DurableTrainingPlugin({ store: createStore(options), engine })],
  });
  process.once('SIGTERM', () => worker.shutdown());
  console.log('host worker ready');
  await worker.run();
  await connection.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

/** The host's client: startTraining and typed handles from durable-fit/client, no string names. */
export const HOST_CLIENT = `
const { Client, Connection } = require('@temporalio/client');
const { progressQuery, startTraining } = require('durable-fit/client');
require('./tasks');

async function main() {
  const connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: process.env.TEMPORAL_NAMESPACE });
  const taskQueue = process.env.HOST_TASK_QUEUE;
  const spec = { task: 'host-sine', epochs: 2, seed: 5, batchSize: 16, hparams: { samples: 64 } };
  const handle = await startTraining(client, spec, { taskQueue, workflowId: taskQueue + '-train' });
  const result = await handle.result();
  const progress = await handle.query(progressQuery); // a closed run still answers (by replay)
  const greeting = await client.workflow.execute('greet', {
    taskQueue,
    workflowId: taskQueue + '-greet',
    args: ['durable-fit'],
  });
  console.log(JSON.stringify({
    status: result.status,
    epochs: result.epochs.length,
    finalCheckpoint: result.finalCheckpoint.url,
    queriedEpochs: progress.epochs,
    greeting,
  }));
  await connection.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
`;
