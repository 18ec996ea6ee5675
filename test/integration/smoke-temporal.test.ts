// Smoke test on the real Temporal dev server: a workflow and an activity through a real worker, and
// the project's search attributes registered and queryable.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES, TASK } from '../../src/contract';
import { createSmokeActivities } from '../fixtures/smoke-activities';
import { testStack } from '../helpers/stack-env';

const stack = testStack();
let connection: Connection;
let client: Client;

before(async () => {
  connection = await Connection.connect({ address: stack.temporalAddress });
  client = new Client({ connection, namespace: stack.namespace });
});
after(async () => connection.close());

test('a workflow and its activity run through a real worker', async () => {
  const taskQueue = `smoke-${process.pid}`;
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: stack.temporalAddress }),
    namespace: stack.namespace,
    taskQueue,
    workflowsPath: require.resolve('../fixtures/smoke-workflows'),
    activities: createSmokeActivities(),
  });
  const workflowId = `smoke-${Date.now()}`;
  const result = await worker.runUntil(
    client.workflow.execute('smokeWorkflow', {
      taskQueue,
      workflowId,
      args: ['durable-fit'],
      typedSearchAttributes: [{ key: TASK, value: 'smoke' }],
    }),
  );
  assert.match(result, /^hello, durable-fit \(pid \d+\)$/);

  const found = await waitForVisibility(
    `WorkflowId = "${workflowId}" AND DfitTask = "smoke" AND DfitStatus = "completed"`,
  );
  assert.equal(found, 1, 'the run is found through our search attributes');
});

test('all project search attributes are registered with the right types', async () => {
  const response = await connection.operatorService.listSearchAttributes({ namespace: stack.namespace });
  const custom = response.customAttributes ?? {};
  for (const key of SEARCH_ATTRIBUTES) assert.ok(key.name in custom, `${key.name} is registered`);
});

async function waitForVisibility(query: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const { count } = await client.workflow.count(query);
    if (count > 0) return count;
    await new Promise((r) => setTimeout(r, 200));
  }
  return 0;
}
