/** Shared CLI plumbing: connection flags → options, and clean exits with clear messages. */
import { WorkflowFailedError } from '@temporalio/client';
import { InvalidArgumentError, Option } from 'commander';
import type { Command } from 'commander';
import type { DurableFitOptions } from '../config/options';
import { resolveOptions } from '../config/options';

export interface ConnectionFlags {
  address?: string;
  namespace?: string;
  uiPort?: number;
  s3Endpoint?: string;
  s3ConsolePort?: number;
  bucket?: string;
  taskQueue?: string;
  stateDir?: string;
  toolsDir?: string;
}

const parsePort = (value: string) => {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError(`"${value}" is not a port number (1-65535)`);
  return port;
};

/** Adds the flags that override connection settings (each also has an environment variable). */
export function withConnectionFlags(command: Command): Command {
  return command
    .addOption(new Option('--address <host:port>', 'Temporal frontend address').env('TEMPORAL_ADDRESS'))
    .addOption(new Option('--namespace <ns>', 'Temporal namespace').env('TEMPORAL_NAMESPACE'))
    .addOption(
      new Option('--ui-port <port>', 'Temporal Web UI port')
        .env('DFIT_TEMPORAL_UI_PORT')
        .argParser(parsePort),
    )
    .addOption(new Option('--s3-endpoint <url>', 'S3/MinIO endpoint URL').env('DFIT_S3_ENDPOINT'))
    .addOption(
      new Option('--s3-console-port <port>', 'MinIO console port')
        .env('DFIT_S3_CONSOLE_PORT')
        .argParser(parsePort),
    )
    .addOption(new Option('--bucket <name>', 'bucket for checkpoints').env('DFIT_S3_BUCKET'))
    .addOption(
      new Option('--task-queue <name>', 'Temporal task queue of training workers').env('DFIT_TASK_QUEUE'),
    )
    .addOption(
      new Option('--state-dir <dir>', 'where the local stack keeps data, logs and pids').env(
        'DFIT_STATE_DIR',
      ),
    )
    .addOption(new Option('--tools-dir <dir>', 'cache of built server binaries').env('DFIT_TOOLS_DIR'));
}

/** Resolves options from the environment plus the command's flags. */
export function optionsFromFlags(flags: ConnectionFlags): DurableFitOptions {
  return resolveOptions(process.env, {
    temporalAddress: flags.address,
    namespace: flags.namespace,
    temporalUiPort: flags.uiPort,
    s3Endpoint: flags.s3Endpoint,
    s3ConsolePort: flags.s3ConsolePort,
    bucket: flags.bucket,
    taskQueue: flags.taskQueue,
    stateDir: flags.stateDir,
    toolsDir: flags.toolsDir,
  });
}

/**
 * What to tell the user about an error: for a failed workflow, the message of its root cause (our
 * errors say what happened and what to do), not the SDK's "Workflow execution failed".
 */
export function failureMessage(err: unknown): string {
  let cause: unknown = err;
  if (err instanceof WorkflowFailedError)
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
  return cause instanceof Error ? cause.message : String(cause);
}

/** Prints an error's message (not a stack trace) and exits (1, or 2 for bad arguments). */
export function fail(err: unknown, code = 1): never {
  const message = failureMessage(err);
  process.stderr.write(`durable-fit: ${message}\n`);
  process.exit(code);
}

/** Runs a command's action, failing with a clear message (not a stack trace) when it throws. */
export async function guarded(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    fail(err);
  }
}

/** One line of a command's output. */
export function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** A command's `--json` output. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
