/** `durable-fit list`: training runs, found through visibility queries on durable-fit's search attributes. */
import { Command, InvalidArgumentError } from 'commander';
import type { Client, WorkflowExecutionInfo } from '@temporalio/client';
import Table from 'cli-table3';
import { EPOCH, LOSS, RECOVERIES, STATUS, TASK } from '../contract';
import type { ConnectionFlags } from './common';
import { withConnectionFlags } from './common';
import { printJson, withClient } from './render/connect';

interface ListFlags extends ConnectionFlags {
  task?: string;
  status?: string;
  query?: string;
  limit: number;
  json?: boolean;
}

const positive = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  return n;
};

const quote = (v: string) => `"${v.replace(/["\\]/g, '\\$&')}"`;

/** The visibility query: our runs (`DfitTask IS NOT NULL`), narrowed by the flags. */
export function listQuery(flags: Pick<ListFlags, 'task' | 'status' | 'query'>): string {
  const parts = ['DfitTask IS NOT NULL'];
  if (flags.task) parts.push(`DfitTask = ${quote(flags.task)}`);
  if (flags.status) parts.push(`DfitStatus = ${quote(flags.status)}`);
  if (flags.query) parts.push(`(${flags.query})`);
  return parts.join(' AND ');
}

export function listCommand(): Command {
  return withConnectionFlags(new Command('list'))
    .description('list training runs, newest first (a visibility query on the Dfit* search attributes)')
    .option('--task <name>', 'only runs of this task')
    .option('--status <status>', 'only runs in this status (running, paused, recovering, completed, …)')
    .option('--query <visibility-query>', 'an extra condition, e.g. "DfitRecoveries > 0"')
    .option('--limit <n>', 'at most this many runs', positive, 20)
    .option('--json', 'print as JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit list\n  $ durable-fit list --task mnist-mlp --status running\n' +
        '  $ durable-fit list --query "DfitRecoveries > 0 AND DfitLoss < 0.3" --json\n\n' +
        'The same query works in the Web UI and in `temporal workflow list --query …`.',
    )
    .action(async (flags: ListFlags) => {
      await withClient(flags, async (client) => {
        const rows = await listRuns(client, listQuery(flags), flags.limit);
        if (flags.json) return printJson(rows);
        if (rows.length === 0) return void process.stdout.write('no training runs found\n');
        const table = new Table({
          head: ['workflow id', 'status', 'task', 'epoch', 'loss', 'recoveries'],
          ...(process.stdout.isTTY ? {} : { style: { head: [], border: [] } }),
        });
        for (const r of rows)
          table.push([r.workflowId, r.status, r.task, r.epoch, r.loss?.toFixed(4) ?? '', r.recoveries]);
        process.stdout.write(`${table.toString()}\n`);
      });
    });
}

export interface RunRow {
  workflowId: string;
  runId: string;
  execution: string;
  status: string;
  task: string;
  epoch: number;
  loss?: number;
  recoveries: number;
  startTime: string;
}

async function listRuns(client: Client, query: string, limit: number): Promise<RunRow[]> {
  const rows: RunRow[] = [];
  for await (const info of client.workflow.list({ query })) {
    rows.push(rowOf(info));
    if (rows.length >= limit) break;
  }
  return rows;
}

function rowOf(info: WorkflowExecutionInfo): RunRow {
  const sa = info.typedSearchAttributes;
  const execution = info.status.name;
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    execution,
    // A run that failed or was terminated never published its last status: say what Temporal says.
    status: execution === 'RUNNING' ? (sa.get(STATUS) ?? 'running') : closedStatus(execution, sa.get(STATUS)),
    task: sa.get(TASK) ?? '',
    epoch: sa.get(EPOCH) ?? 0,
    loss: sa.get(LOSS),
    recoveries: sa.get(RECOVERIES) ?? 0,
    startTime: info.startTime.toISOString(),
  };
}

function closedStatus(execution: string, published: string | undefined): string {
  if (execution === 'COMPLETED') return published ?? 'completed';
  return execution.toLowerCase().replace('_', '-');
}
