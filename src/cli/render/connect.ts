/** Connects a command to Temporal, runs it, closes the connection, and turns errors into clear exits. */
import type { Client } from '@temporalio/client';
import { WorkflowNotFoundError } from '@temporalio/client';
import { connectClient } from '../../client';
import type { DurableFitOptions } from '../../config/options';
import type { ConnectionFlags } from '../common';
import { fail, optionsFromFlags } from '../common';

/** Runs `fn` with a connected client; any error exits 1 with its message (not a stack trace). */
export async function withClient(
  flags: ConnectionFlags,
  fn: (client: Client, options: DurableFitOptions) => Promise<void>,
): Promise<void> {
  let client: Client | undefined;
  let options: DurableFitOptions | undefined;
  try {
    options = optionsFromFlags(flags);
    client = await connectClient(options, process.env);
    await fn(client, options);
  } catch (err) {
    if (err instanceof WorkflowNotFoundError)
      fail(
        `no run "${err.workflowId}" in namespace ${options?.namespace ?? '?'} ` +
          '(`durable-fit list` shows the runs)',
      );
    fail(err);
  } finally {
    await client?.connection.close();
  }
}

/** Prints JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
