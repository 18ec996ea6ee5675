/**
 * The fast workflow tier: the real trainModel workflow on a local Temporal dev server (our own
 * binary from the tools cache, started by `TestWorkflowEnvironment.createLocal`), with the
 * activities replaced by stubs the test drives. No MinIO, no trainer: seconds per test.
 */
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import type { WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { resolveOptions } from '../../src/config/options';
import { ensureTool } from '../../src/stack/tools';
import { TEMPORAL_CLI } from '../../src/stack/versions';
import { SEARCH_ATTRIBUTES } from '../../src/contract';
import type { Progress } from '../../src/contract';

export interface WorkflowTestEnv {
  env: TestWorkflowEnvironment;
  bundle: WorkflowBundleWithSourceMap;
  close(): Promise<void>;
}

/** Starts the dev server and bundles the workflows once per test file. */
export async function startWorkflowEnv(): Promise<WorkflowTestEnv> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const path = await ensureTool(TEMPORAL_CLI, { toolsDir: resolveOptions(process.env).toolsDir });
  const [env, bundle] = await Promise.all([
    TestWorkflowEnvironment.createLocal({
      server: {
        executable: { type: 'existing-path', path },
        ip: '127.0.0.1',
        searchAttributes: [...SEARCH_ATTRIBUTES],
      },
    }),
    bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      logger: new DefaultLogger('ERROR'),
    }),
  ]);
  return { env, bundle, close: () => env.teardown() };
}

let queues = 0;

/** What a test's worker serves: StubActivities, or a test's own stub activities (shards, merges). */
export interface ActivitySource {
  activities(): object;
}

/** Runs `body` with a worker on a fresh task queue serving the workflows and these stubs. */
export async function withWorker<T>(
  t: WorkflowTestEnv,
  stubs: ActivitySource,
  body: (taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `wf-${process.pid}-${++queues}`;
  const worker = await Worker.create({
    connection: t.env.nativeConnection,
    namespace: t.env.namespace ?? 'default',
    taskQueue,
    workflowBundle: t.bundle,
    activities: stubs.activities(),
    stickyQueueScheduleToStartTimeout: '1s',
  });
  return worker.runUntil(body(taskQueue));
}

/** Polls the progress query until `check` holds (state-driven, not a fixed sleep). */
export async function waitForProgress(
  handle: WorkflowHandle,
  check: (p: Progress) => boolean,
  timeoutMs = 20_000,
): Promise<Progress> {
  const deadline = Date.now() + timeoutMs;
  let last: Progress | undefined;
  while (Date.now() < deadline) {
    last = await handle.query<Progress>('progress').catch(() => undefined);
    if (last && check(last)) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`progress never matched; last: ${JSON.stringify(last)}`);
}
