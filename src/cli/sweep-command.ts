/**
 * `durable-fit sweep start|status|best`: a hyperparameter search as one durable workflow whose
 * trials are training runs (README "Sweeps").
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { Sweep, SweepInput, SweepProgress, SweepSearch } from '../contract/sweep';
import { sweepProgressQuery } from '../contract/sweep';
import { defaultSweepId, startSweep, validateSweepInput } from '../sweep/client';
import { renderSweep } from '../sweep/render';
import { parseSpace } from '../sweep/space-flags';
import type { ConnectionFlags } from './common';
import { fail, failureMessage, withConnectionFlags } from './common';
import { printJson, withClient } from './render/connect';
import { uiLink } from './render/run-state';

interface StartFlags extends ConnectionFlags {
  task: string;
  search: SweepSearch['kind'];
  space: string[];
  trials: number;
  epochs: number;
  seed: number;
  concurrency: number;
  metric: string;
  mode?: 'min' | 'max';
  hparam: Record<string, unknown>;
  batchSize?: number;
  reductionFactor?: number;
  minEpochs?: number;
  rungs?: number[];
  interval?: number;
  quantile?: number;
  workflowId?: string;
  wait?: boolean;
  json?: boolean;
}

const int = (value: string) => {
  const n = Number(value);
  if (!Number.isFinite(n)) throw new InvalidArgumentError(`"${value}" is not a number`);
  return n;
};
const collect = (value: string, previous: string[]) => [...previous, value];
const hparam = (value: string, previous: Record<string, unknown>) => {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError(`"${value}" is not key=value`);
  const raw = value.slice(eq + 1);
  const n = Number(raw);
  return { ...previous, [value.slice(0, eq)]: raw.trim() !== '' && Number.isFinite(n) ? n : raw };
};

export function sweepCommand(): Command {
  return new Command('sweep')
    .description('hyperparameter sweeps: grid, random, ASHA and PBT over durable training runs')
    .addCommand(startSubcommand())
    .addCommand(readSubcommand('status', 'a table of trials and a plot of the metric per trial'))
    .addCommand(readSubcommand('best', "the best trial's final .ckpt URL"));
}

function startSubcommand(): Command {
  return withConnectionFlags(new Command('start'))
    .description('start a sweep')
    .requiredOption('--task <name>', 'task to train (durable-fit tasks lists them)')
    .addOption(
      new Option('--search <kind>', 'search').choices(['grid', 'random', 'asha', 'pbt']).default('random'),
    )
    .option(
      '--space <name=values>',
      'a hyperparameter: a,b,c | min..max | log:min..max | int:min..max (repeatable)',
      collect,
      [],
    )
    .option('--trials <n>', 'trials (random, asha) or population (pbt)', int, 8)
    .option('--epochs <n>', 'epochs of a full trial', int, 3)
    .option('--seed <n>', 'sweep seed: same seed, same trials', int, 1)
    .option('--concurrency <n>', 'trials running at once', int, 1)
    .option('--metric <name>', 'metric to rank trials by', 'valLoss')
    .addOption(
      new Option('--mode <mode>', 'min or max (default: max for an accuracy, else min)').choices([
        'min',
        'max',
      ]),
    )
    .option('--hparam <key=value>', 'a fixed hyperparameter of every trial (repeatable)', hparam, {})
    .option('--batch-size <n>', 'batch size of every trial', int)
    .option('--reduction-factor <n>', 'asha: keep the best 1/n of each rung (default 3)', int)
    .option('--min-epochs <n>', 'asha: epochs of the first rung (default 1)', int)
    .option('--rungs <list>', 'asha: the rungs, e.g. 1,2,3 (last = --epochs)', (v) => v.split(',').map(int))
    .option('--interval <n>', 'pbt: epochs per generation (default 1)', int)
    .option('--quantile <q>', 'pbt: fraction replaced each generation (default 0.25)', Number)
    .option('--workflow-id <id>', 'sweep id (default: sweep-<task>-<time>)')
    .option('--wait', 'wait for the sweep to finish and print its trials')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  $ durable-fit sweep start --task mnist-mlp --search asha --space learningRate=log:1e-4..1e-2 \\\n' +
        '      --space hidden=64,128,256 --trials 8 --concurrency 2\n' +
        '  $ durable-fit sweep start --task synthetic --search grid --space hidden=4,8 --space learningRate=0.01,0.05 --wait\n' +
        '  $ durable-fit sweep start --task mnist-mlp --search pbt --space learningRate=log:1e-4..1e-2 --trials 4 --epochs 4 --metric valAccuracy',
    )
    .action(async (flags: StartFlags) => {
      let input: SweepInput;
      try {
        input = sweepInputFromFlags(flags);
        validateSweepInput(input);
      } catch (err) {
        fail(err, 2); // bad arguments: nothing was started
      }
      await withClient(flags, async (client, options) => {
        const workflowId = flags.workflowId ?? defaultSweepId(input);
        const handle = await startSweep(client, input, { workflowId, taskQueue: options.taskQueue });
        const ui = uiLink(options.uiUrl, options.namespace, workflowId);
        if (!flags.wait) {
          if (flags.json) printJson({ workflowId, runId: handle.firstExecutionRunId, ui });
          else
            process.stdout.write(
              `started sweep ${workflowId}\n  status: durable-fit sweep status ${workflowId}\n  UI:     ${ui}\n`,
            );
          return;
        }
        try {
          const result = await handle.result();
          process.stdout.write(
            flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${renderSweep(result)}\n  UI: ${ui}\n`,
          );
        } catch (err) {
          if (!(err instanceof WorkflowFailedError)) throw err;
          fail(`sweep ${workflowId} failed: ${failureMessage(err)}\n  UI: ${ui}`);
        }
      });
    });
}

export function sweepInputFromFlags(flags: StartFlags): SweepInput {
  const search = searchFromFlags(flags);
  const base = {
    ...(Object.keys(flags.hparam).length ? { hparams: flags.hparam } : {}),
    ...(flags.batchSize ? { batchSize: flags.batchSize } : {}),
  };
  return {
    task: flags.task,
    seed: flags.seed,
    epochs: flags.epochs,
    trials: flags.trials,
    space: parseSpace(flags.space),
    search,
    concurrency: flags.concurrency,
    metric: flags.metric,
    mode: flags.mode ?? (/acc/i.test(flags.metric) ? 'max' : 'min'),
    ...(Object.keys(base).length ? { base } : {}),
  };
}

function searchFromFlags(flags: StartFlags): SweepSearch {
  const pick = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  if (flags.search === 'asha')
    return {
      kind: 'asha',
      ...pick({ reductionFactor: flags.reductionFactor, minEpochs: flags.minEpochs, rungs: flags.rungs }),
    };
  if (flags.search === 'pbt')
    return { kind: 'pbt', interval: flags.interval ?? 1, ...pick({ quantile: flags.quantile }) };
  return { kind: flags.search };
}

function readSubcommand(name: 'status' | 'best', description: string): Command {
  return withConnectionFlags(new Command(name))
    .description(description)
    .argument('<sweepId>', 'the sweep (its workflow id)')
    .option('--json', 'print JSON')
    .action(async (sweepId: string, flags: ConnectionFlags & { json?: boolean }) => {
      await withClient(flags, async (client) => {
        const progress = await readSweep(client, sweepId);
        if (name === 'status') {
          process.stdout.write(
            flags.json ? `${JSON.stringify(progress, null, 2)}\n` : `${renderSweep(progress)}\n`,
          );
          return;
        }
        if (!progress.best) fail(`sweep ${sweepId} has no finished trial yet (status ${progress.status})`);
        if (flags.json) printJson(progress.best);
        else process.stdout.write(`${progress.best.finalCheckpoint.url}\n`);
      });
    });
}

/** A finished sweep's result, else the running sweep's progress query. */
export async function readSweep(client: Client, sweepId: string): Promise<SweepProgress> {
  const handle = client.workflow.getHandle<Sweep>(sweepId);
  const { status } = await handle.describe();
  if (status.name === 'COMPLETED') return handle.result();
  return handle.query(sweepProgressQuery);
}
