/** The `durable-fit` command line. */
import { Command } from 'commander';
import type { CommanderError } from 'commander';
import { version } from '../../package.json';
import { resolveOptions } from '../config/options';
import { loadTaskModules } from '../training/tasks/load-modules';
import { backendCommand } from './backend-command';
import { ckptCommand } from './ckpt-command';
import { codecServerCommand } from './codec-server-command';
import { dataCommand } from './data-command';
import { controlCommands } from './control-command';
import { forkCommand } from './fork-command';
import { listCommand } from './list-command';
import { stackCommand } from './stack-command';
import { startCommand } from './start-command';
import { statusCommand } from './status-command';
import { sweepCommand } from './sweep-command';
import { tasksCommand } from './tasks-command';
import { watchCommand } from './watch-command';
import { workerCommand } from './worker-command';

export function buildProgram(): Command {
  const program = new Command('durable-fit')
    .description('Durable, exactly-resumable TensorFlow.js training on Temporal')
    .version(version);
  program.addCommand(startCommand());
  program.addCommand(workerCommand());
  program.addCommand(stackCommand());
  program.addCommand(backendCommand());
  program.addCommand(ckptCommand());
  program.addCommand(dataCommand());
  program.addCommand(watchCommand());
  program.addCommand(statusCommand());
  program.addCommand(listCommand());
  for (const control of controlCommands()) program.addCommand(control);
  program.addCommand(forkCommand());
  program.addCommand(sweepCommand());
  program.addCommand(tasksCommand());
  program.addCommand(codecServerCommand());
  applyEverywhere(program);
  return program;
}

/** Bad arguments exit 2 with the message and a pointer to --help, on every subcommand. */
function applyEverywhere(command: Command): void {
  command.showHelpAfterError('(add --help for usage and examples)');
  command.exitOverride((err: CommanderError) => {
    const ok =
      err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
    process.exit(ok ? 0 : 2);
  });
  for (const sub of command.commands) applyEverywhere(sub);
}

/** Runs the CLI; the `bin/durable-fit.cjs` entry point calls this. */
export async function runCli(argv: string[]): Promise<void> {
  try {
    // User tasks (DFIT_TASK_MODULES) must be registered before `start` or `fork` validate a spec.
    loadTaskModules(resolveOptions(process.env).taskModules);
    await buildProgram().parseAsync(argv);
  } catch (err) {
    process.stderr.write(`durable-fit: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}

if (require.main === module) void runCli(process.argv);
