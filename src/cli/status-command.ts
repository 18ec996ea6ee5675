/** `durable-fit status <id>`: where a run stands, its epochs and recoveries, and its loss curve. */
import { Command } from 'commander';
import type { ConnectionFlags } from './common';
import { withConnectionFlags } from './common';
import { printJson, withClient } from './render/connect';
import { readRun, uiLink } from './render/run-state';
import { renderStatus, statusJson } from './render/status-view';

export function statusCommand(): Command {
  return withConnectionFlags(new Command('status'))
    .description('show a run: summary table, epochs, recoveries and the loss curve')
    .argument('<workflowId>', 'the run (its workflow id)')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit status mnist-mlp-2025-01-01T10-00-00-000Z\n' +
        '  $ durable-fit status my-run --json | jq .lastCheckpoint.url',
    )
    .action(async (workflowId: string, flags: ConnectionFlags & { json?: boolean }) => {
      await withClient(flags, async (client, options) => {
        const snapshot = await readRun(client, workflowId);
        const ui = uiLink(options.uiUrl, options.namespace, workflowId);
        if (flags.json) printJson(statusJson(snapshot, ui));
        else process.stdout.write(renderStatus(snapshot, ui, Boolean(process.stdout.isTTY)));
      });
    });
}
