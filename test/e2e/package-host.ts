// The throwaway host projects of package.slow.test.ts: plain JavaScript, as a user without a build
// step writes it, importing only the installed `durable-fit` package and Temporal's own packages.
// Each file comes in two module systems: CommonJS (`require`) and ES modules (`"type": "module"`,
// `import`); only the lines that load things differ, the code after them is the same.

export type ModuleKind = 'commonjs' | 'module';

/** The files of a host project, by name. */
export function hostFiles(kind: ModuleKind): Record<string, string> {
  const esm = kind === 'module';
  return {
    'tasks.js': (esm ? TASKS_ESM : TASKS_CJS) + TASKS,
    'workflows.js': WORKFLOWS,
    'worker.js': (esm ? WORKER_ESM : WORKER_CJS) + WORKER,
    'client.js': (esm ? CLIENT_ESM : CLIENT_CJS) + CLIENT,
  };
}

const TASKS_CJS = `
const tf = require('@tensorflow/tfjs-core');
const tfl = require('@tensorflow/tfjs-layers');
const { z } = require('zod');
const { createSeedSequence, registerTask } = require('durable-fit');
`;

const TASKS_ESM = `
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { z } from 'zod';
import { createSeedSequence, registerTask } from 'durable-fit';
`;

/** The host's own task, registered when loaded (worker, trainer processes and client alike). */
const TASKS = `
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

/** The host's workflows file: its own workflow next to durable-fit's, the Temporal way (ESM syntax in both). */
const WORKFLOWS = `
import { proxyActivities } from '@temporalio/workflow';
export * from 'durable-fit/workflows';

const { hostGreeting } = proxyActivities({ startToCloseTimeout: '1 minute' });

export async function greet(name) {
  return await hostGreeting(name);
}
`;

const WORKER_CJS = `
const path = require('node:path');
const { DefaultLogger, NativeConnection, Runtime, Worker } = require('@temporalio/worker');
const { DurableTrainingPlugin, createProcessEngine, createStorage, resolveOptions } = require('durable-fit');
require('./tasks');
const workflowsPath = require.resolve('./workflows');
const tasksPath = path.join(__dirname, 'tasks.js');
`;

const WORKER_ESM = `
import { fileURLToPath } from 'node:url';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { DurableTrainingPlugin, createProcessEngine, createStorage, resolveOptions } from 'durable-fit';
import './tasks.js';
const workflowsPath = fileURLToPath(new URL('./workflows.js', import.meta.url));
const tasksPath = fileURLToPath(new URL('./tasks.js', import.meta.url));
`;

/** The host's worker: plain Worker.create with its own workflows and activity, plus the plugin. */
const WORKER = `
async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const backend = process.env.HOST_BACKEND || 'cpu';
  const options = resolveOptions(process.env, { backend });
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS });
  const engine = createProcessEngine({ backend, taskModules: [tasksPath] });
  const worker = await Worker.create({
    connection,
    namespace: process.env.TEMPORAL_NAMESPACE,
    taskQueue: process.env.HOST_TASK_QUEUE,
    workflowsPath,
    activities: { hostGreeting: async (name) => 'hello from the host, ' + name },
    plugins: [new DurableTrainingPlugin({ ...createStorage(options), engine })],
  });
  process.once('SIGTERM', () => worker.shutdown());
  console.log('host worker ready');
  await worker.run();
  await connection.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

const CLIENT_CJS = `
const { Client, Connection } = require('@temporalio/client');
const { progressQuery, startTraining } = require('durable-fit/client');
require('./tasks');
`;

const CLIENT_ESM = `
import { Client, Connection } from '@temporalio/client';
import { progressQuery, startTraining } from 'durable-fit/client';
import './tasks.js';
`;

/** The host's client: startTraining and typed handles from durable-fit/client, no string names. */
const CLIENT = `
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
    backend: result.backend,
    queriedEpochs: progress.epochs,
    greeting,
  }));
  await connection.close();
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

/** An ES module that imports each entry point by name and prints what it got, as JSON. */
export const ESM_IMPORTS = `
import { DurableTrainingPlugin, createProcessEngine, createStore, registerTask, resolveOptions } from 'durable-fit';
import { pauseSignal, progressQuery, startTraining } from 'durable-fit/client';
import { trainModel } from 'durable-fit/workflows';
import { createActivities } from 'durable-fit/activities';
const found = { DurableTrainingPlugin, createProcessEngine, createStore, registerTask, resolveOptions,
  startTraining, trainModel, createActivities, pauseSignal, progressQuery };
console.log(JSON.stringify(Object.fromEntries(Object.entries(found).map(([k, v]) => [k, typeof v]))));
`;
