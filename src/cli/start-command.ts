/** `durable-fit start`: start a training run (optionally wait for it and print the result). */
import { Command } from 'commander';
import { WorkflowFailedError } from '@temporalio/client';
import type { Client, WorkflowHandleWithFirstExecutionRunId as WorkflowHandle } from '@temporalio/client';
import { connectClient, defaultWorkflowId, startTraining, validateSpecInput } from '../client';
import type { TrainingSpecInput } from '../spec';
import type { ParallelTrainingResult, TrainingResult } from '../contract';
import type { ConnectionFlags } from './common';
import { fail, failureMessage, optionsFromFlags, withConnectionFlags } from './common';
import type { SpecFlags } from './spec-flags';
import { assertDatasetApplies, specFromFlags, withSpecFlags } from './spec-flags';
import { goodputLine } from './render/status-view';

interface StartFlags extends ConnectionFlags, SpecFlags {
  workflowId?: string;
  wait?: boolean;
  json?: boolean;
}

export function startCommand(): Command {
  const command = withSpecFlags(withConnectionFlags(new Command('start')))
    .description('start a durable training run')
    .option('--workflow-id <id>', 'workflow id (default: <task>-<time>)')
    .option('--wait', 'wait for the run to finish and print its result')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ durable-fit start --task mnist-mlp --epochs 3 --seed 1 --wait\n' +
        '  $ durable-fit start --task synthetic --epochs 5 --seed 7 --hparam learningRate=0.05 --checkpoint-every-batches 10\n' +
        '  $ durable-fit start --task mnist-mlp --epochs 10 --seed 1 --resume-from s3://durable-fit/run-1/epoch=0003-step=0005625.ckpt',
    );
  return command.action(async (flags: StartFlags) => {
    let client: Client | undefined;
    try {
      const options = optionsFromFlags(flags);
      const input = specFromFlags(flags) as TrainingSpecInput;
      const workflowId = flags.workflowId ?? defaultWorkflowId(input);
      try {
        assertDatasetApplies(validateSpecInput(input, workflowId));
      } catch (err) {
        fail(err, 2); // bad arguments: nothing was started
      }
      client = await connectClient(options, process.env);
      const handle = await startTraining(client, input, { workflowId, taskQueue: options.taskQueue });
      await report(handle, options.uiUrl, options.namespace, flags);
    } catch (err) {
      fail(err);
    } finally {
      await client?.connection.close();
    }
  });
}

async function report(
  handle: WorkflowHandle,
  uiUrl: string,
  namespace: string,
  flags: StartFlags,
): Promise<void> {
  const link = `${uiUrl}/namespaces/${namespace}/workflows/${handle.workflowId}`;
  if (!flags.wait) {
    if (flags.json)
      print({
        workflowId: handle.workflowId,
        runId: handle.firstExecutionRunId,
        status: 'running',
        ui: link,
      });
    else
      process.stdout.write(
        `started ${handle.workflowId}\n  watch: durable-fit watch ${handle.workflowId}\n  UI:    ${link}\n`,
      );
    return;
  }
  let result: TrainingResult;
  try {
    result = (await handle.result()) as TrainingResult;
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    // The reason, where the user looks: the failure's own message and hint, then where to see more.
    process.stderr.write(
      `durable-fit: run ${handle.workflowId} failed: ${failureMessage(err)}\n` +
        `  status: durable-fit status ${handle.workflowId}\n  UI:     ${link}\n`,
    );
    process.exitCode = 1;
    return;
  }
  const summary = resultSummary(handle, result);
  if (flags.json) print(summary);
  else {
    const last = result.epochs[result.epochs.length - 1];
    process.stdout.write(
      `${result.status}: ${handle.workflowId}\n  final checkpoint ${result.finalCheckpoint.url}\n` +
        `  weights sha256   ${result.weightsSha256}\n` +
        (result.dataset ? `  dataset          ${result.dataset}\n` : '') +
        `  last metrics     ${JSON.stringify(last?.metrics ?? {})}\n` +
        `  recoveries       ${result.recoveryCount ?? result.recoveries.length}\n` +
        (result.goodput ? `  goodput          ${goodputLine(result.goodput)}\n` : '') +
        `  UI               ${link}\n`,
    );
  }
}

/** The documented JSON shape of a finished run. */
export function resultSummary(handle: WorkflowHandle, result: TrainingResult) {
  return {
    workflowId: handle.workflowId,
    runId: handle.firstExecutionRunId,
    status: result.status,
    finalCheckpoint: { url: result.finalCheckpoint.url, sha256: result.finalCheckpoint.sha256 },
    weightsSha256: result.weightsSha256,
    epochs: result.epochs.map((e) => ({
      epoch: e.epoch,
      ckpt: { url: e.ckpt.url, sha256: e.ckpt.sha256 },
      metrics: e.metrics,
    })),
    recoveries: result.recoveries,
    ...(result.dataset ? { dataset: result.dataset } : {}),
    ...(result.goodput ? { goodput: result.goodput } : {}),
    ...(result.skipped?.length ? { skipped: result.skipped } : {}),
    // Data-parallel runs: the last rounds, each with its shards' checkpoints, workers and recoveries.
    ...('rounds' in result ? { rounds: (result as ParallelTrainingResult).rounds } : {}),
  };
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
