/** `durable-fit tasks`: the registered training tasks and their hyperparameters with defaults. */
import { Command } from 'commander';
import { resolveOptions } from '../config/options';
import { isBackendRequest, selectBackend } from '../training/backend';
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
    .action(async (flags: { json?: boolean }) => {
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
      process.stdout.write(`\n${await backendLine()}\n`);
    });
}

/** Which backend a worker on this machine would train on (DFIT_BACKEND), with its versions. */
async function backendLine(): Promise<string> {
  const requested = resolveOptions(process.env).backend;
  if (!isBackendRequest(requested)) return `backend: DFIT_BACKEND="${requested}" is not a backend`;
  try {
    const backend = await selectBackend(requested);
    const versions = Object.entries(backend.versions).map(([k, v]) => `${k} ${v}`);
    return `backend here (DFIT_BACKEND=${requested}): ${backend.name} (${versions.join(', ')})`;
  } catch (err) {
    return `backend here (DFIT_BACKEND=${requested}): none loads: ${err instanceof Error ? err.message : String(err)}`;
  }
}
