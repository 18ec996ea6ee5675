/** `durable-fit tasks`: the registered training tasks and their hyperparameters with defaults. */
import { Command } from 'commander';
import { getTask, listTasks, validateHparams } from '../training/tasks';
import { printJson } from './render/connect';

export function tasksCommand(): Command {
  return new Command('tasks')
    .description('list the training tasks and their hyperparameters (with defaults)')
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit tasks\n  $ durable-fit tasks --json\n\nWrite your own: docs/tasks.md.',
    )
    .action((flags: { json?: boolean }) => {
      const tasks = listTasks().map((name) => {
        const task = getTask(name);
        return { name, description: task.description ?? '', hparams: validateHparams(task, {}) };
      });
      if (flags.json) return printJson(tasks);
      for (const t of tasks) {
        process.stdout.write(`${t.name}  ${t.description}\n`);
        const defaults = Object.entries(t.hparams).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
        process.stdout.write(`  hparams: ${defaults.join(' ')}\n`);
      }
    });
}
