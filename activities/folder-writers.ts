/**
 * A run may continue another run's folder only once that run has stopped writing to it: two live
 * writers in one folder would take each other's keys, and neither's retention or clean-up could tell
 * its objects from the other's. The running workflows that write a folder are found by the
 * `DfitRunName` search attribute (workflows/visibility.ts sets it to the run folder).
 */
import type { Context } from '@temporalio/activity';
import type { FailureKind } from '../src/failure-kind';

type Log = (message: string, meta?: Record<string, unknown>) => void;

/** A running workflow writes the folder this run wants to continue. */
export class RunFolderBusyError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'RunFolderBusyError';
  constructor(
    readonly runName: string,
    readonly writer: string,
  ) {
    super(
      `run folder "${runName}" is still being written by running workflow "${writer}"; wait until it ` +
        'completes (or stop it), or resume under another runName (its checkpoint is then pinned, not taken over)',
    );
  }
}

/**
 * Throws `RunFolderBusyError` when a running workflow other than `self` writes `runName`. Without a
 * Temporal client (a mock activity environment) or when visibility cannot answer (the search
 * attribute is not registered), it logs and lets the run go on: the check guards, it does not gate.
 */
export async function assertNoOtherWriter(
  ctx: Context | undefined,
  runName: string,
  self: string,
  log?: Log,
): Promise<void> {
  let client: Context['client'];
  try {
    if (!ctx) return;
    client = ctx.client;
  } catch {
    return; // no client here
  }
  const query = `DfitRunName = "${runName.replace(/"/g, '\\"')}" AND ExecutionStatus = "Running"`;
  try {
    for await (const run of client.workflow.list({ query })) {
      if (run.workflowId !== self) throw new RunFolderBusyError(runName, run.workflowId);
    }
  } catch (err) {
    if (err instanceof RunFolderBusyError) throw err;
    log?.('could not ask Temporal who else writes the run folder; continuing', {
      runName,
      error: String(err),
    });
  }
}
