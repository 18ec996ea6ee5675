/** Saving and replaying workflow histories (replay safety of the training workflow). */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import type { TestStack } from './stack-env';

const run = promisify(execFile);

/**
 * Writes every execution (the continue-as-new chain included) of `workflowId` as JSON, in the
 * format of `temporal workflow show --output json`.
 */
export async function saveHistories(
  client: Client,
  stack: TestStack,
  workflowId: string,
  dir: string,
): Promise<string[]> {
  fs.mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for await (const execution of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) {
    const args = [
      'workflow',
      'show',
      '--address',
      stack.temporalAddress,
      '-w',
      workflowId,
      '-r',
      execution.runId,
      '-o',
      'json',
    ];
    const { stdout } = await run(stack.temporalBin, args, { maxBuffer: 64 * 1024 * 1024 });
    const file = path.join(dir, `${workflowId}-${execution.runId}.json`);
    fs.writeFileSync(file, stdout);
    files.push(file);
  }
  return files;
}

/**
 * Replays saved histories against the current workflow code; returns the failures. Each replays under the workflow id it ran with (its start event's): a sweep names its
 * trials' child workflows after its own id, so another id would not replay.
 */
export async function replayFiles(files: string[]): Promise<string[]> {
  const histories = files.map((file) => {
    const history = historyFromJSON(JSON.parse(fs.readFileSync(file, 'utf8')));
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    return { workflowId: started?.workflowId || path.basename(file, '.json'), history };
  });
  const failures: string[] = [];
  const results = Worker.runReplayHistories({ workflowsPath: require.resolve('../../workflows') }, histories);
  for await (const result of results) {
    if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
  }
  return failures;
}
