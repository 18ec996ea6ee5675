/** `durable-fit pause | resume | stop | checkpoint-now <id>`: the run's signals, from the command line. */
import { Command } from 'commander';
import type { SignalDefinition } from '@temporalio/client';
import { checkpointNowSignal, pauseSignal, resumeSignal, stopSignal } from '../client';
import type { ConnectionFlags } from './common';
import { withConnectionFlags } from './common';
import { withClient } from './render/connect';

interface Control {
  name: string;
  signal: SignalDefinition;
  description: string;
  effect: string;
}

const CONTROLS: Control[] = [
  {
    name: 'pause',
    signal: pauseSignal,
    description: 'pause a run at the next batch boundary (it saves a checkpoint first)',
    effect: 'the running epoch saves a checkpoint at the next batch boundary and the run waits',
  },
  {
    name: 'resume',
    signal: resumeSignal,
    description: 'continue a paused run from the checkpoint it saved when it paused',
    effect: 'the run continues from the checkpoint saved when it paused',
  },
  {
    name: 'stop',
    signal: stopSignal,
    description: 'finish the current epoch, checkpoint, and complete the run early (status "stopped")',
    effect: 'the run completes after the current epoch, with status "stopped"',
  },
  {
    name: 'checkpoint-now',
    signal: checkpointNowSignal,
    description: 'save an intra-epoch checkpoint now (within a few seconds)',
    effect: 'the running epoch saves a checkpoint within a few seconds',
  },
];

/** The four control commands. */
export function controlCommands(): Command[] {
  return CONTROLS.map(controlCommand);
}

function controlCommand(control: Control): Command {
  return withConnectionFlags(new Command(control.name))
    .description(control.description)
    .argument('<workflowId>', 'the run (its workflow id)')
    .addHelpText(
      'after',
      `\nExamples:\n  $ durable-fit ${control.name} mnist-mlp-2025-01-01T10-00-00-000Z\n` +
        `  $ temporal workflow signal --workflow-id my-run --name ${control.signal.name}   # the same, with Temporal's CLI`,
    )
    .action(async (workflowId: string, flags: ConnectionFlags) => {
      await withClient(flags, async (client) => {
        const handle = client.workflow.getHandle(workflowId);
        await handle.signal(control.signal);
        process.stdout.write(`sent ${control.signal.name} to ${workflowId}: ${control.effect}\n`);
      });
    });
}
