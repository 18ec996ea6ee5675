/** `durable-fit watch <id>`: follow a run live until it closes. */
import { Command } from 'commander';
import type { ConnectionFlags } from './common';
import { withConnectionFlags } from './common';
import { withClient } from './render/connect';
import { uiLink } from './render/run-state';
import { watchRun } from './render/watch-view';

interface WatchFlags extends ConnectionFlags {
  bars?: boolean;
}

export function watchCommand(): Command {
  return withConnectionFlags(new Command('watch'))
    .description('follow a run live: epoch and batch progress bars, recoveries as they happen')
    .argument('<workflowId>', 'the run (its workflow id)')
    .option('--no-bars', 'print narration lines only (the default when output is not a terminal)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit watch mnist-mlp-2025-01-01T10-00-00-000Z\n' +
        '  $ durable-fit watch my-run --no-bars | tee my-run.log\n\n' +
        'Exits when the run closes: 0 if it completed or was stopped, 1 if it failed.\n' +
        'Ctrl-C stops watching; the run goes on.',
    )
    .action(async (workflowId: string, flags: WatchFlags) => {
      let ok = true;
      await withClient(flags, async (client, options) => {
        await client.workflow.getHandle(workflowId).describe(); // a clear error for an unknown id
        process.stdout.write(
          `watching ${workflowId}  (UI ${uiLink(options.uiUrl, options.namespace, workflowId)})\n`,
        );
        const last = await watchRun(client, workflowId, {
          out: process.stdout,
          bars: flags.bars === false ? false : Boolean(process.stdout.isTTY),
        });
        ok = last.execution === 'COMPLETED';
      });
      if (!ok) process.exitCode = 1;
    });
}
