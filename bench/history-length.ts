/**
 * History length: does a long run slow down? One run of tiny `synthetic` epochs on two
 * `durable-fit worker` processes, continuing as new every `continueAsNewEvery` epochs. At each chosen
 * epoch (e.g. 1, 100, 1,000) the worker running the epoch is SIGKILLed. From the histories of the
 * whole chain of runs: the epoch period (between consecutive epoch completions) just after each
 * point, and the recovery there (kill → resumed epoch started), with the replaying workflow task.
 */
import type { Client, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { BenchStack } from './bench-stack';
import { benchQueue } from './bench-stack';
import { eventMs } from './history';
import { timeline } from './phases';
import type { Summary } from './stats';
import { pollFor, summarize } from './stats';
import { pendingEpoch } from '../test/helpers/worker-fleet';

export interface HistoryLengthOptions {
  /** Epochs at which to kill the running worker (ascending). */
  atEpochs: number[];
  continueAsNewEvery: number;
  heartbeatTimeoutS: number;
  /** Epoch periods measured after each point. */
  window: number;
  backend: string;
  log(line: string): void;
}

export interface HistoryLengthRow {
  epoch: number;
  /** Epoch periods (s) over the window after the point, the recovered epoch left out. */
  epochPeriodS: Summary;
  /** Kill → resumed epoch started, in seconds. */
  recoveryS: number;
  /** The workflow task after the timeout: started → completed, ms (replay on a cold worker). */
  workflowTaskMs: number;
}

export interface HistoryLengthResult {
  continueAsNewEvery: number;
  heartbeatTimeoutS: number;
  runs: number;
  rows: HistoryLengthRow[];
}

export async function runHistoryLengthBench(
  stack: BenchStack,
  options: HistoryLengthOptions,
): Promise<HistoryLengthResult> {
  const fleet = stack.fleet('history', options.backend);
  await Promise.all([fleet.start(), fleet.start()]);
  // Far more epochs than measured, and a stop once the window after the last kill is trained: tiny
  // epochs can outrun a poll, so a kill lands at the first running epoch at or after its point.
  const epochs = ((options.atEpochs.at(-1) ?? 1) + options.window + 2) * 10;
  const workflowId = `bench-history-${Date.now()}`;
  try {
    const handle = await stack.startRun(benchQueue('history'), workflowId, {
      task: 'synthetic',
      epochs,
      seed: 1,
      batchSize: 32,
      continueAsNewEvery: options.continueAsNewEvery,
      checkpoint: { everySeconds: 0, everyBatches: 0, keepLast: 2 },
      recovery: {
        heartbeatTimeoutSeconds: options.heartbeatTimeoutS,
        backoffSeconds: 0,
        maxCrashRecoveries: 100,
      },
    });
    const kills: number[] = [];
    let lastKillEpoch = 0;
    for (const at of options.atEpochs) {
      // A tiny epoch can end between finding its worker and killing it (the next one then runs on the
      // other worker, and nothing times out): such a kill is retried at a later epoch.
      for (let from = at, attempt = 1; ; attempt++) {
        const victim = await pollFor(
          async () => {
            const epoch = await epochNow(stack.client, workflowId);
            if (epoch >= epochs - options.window - 2)
              throw new Error(`the run reached epoch ${epoch} before one at or after ${at} was caught`);
            return epoch >= from ? pendingEpoch(stack.client.workflow.getHandle(workflowId)) : undefined;
          },
          `epoch ${from}`,
          1_800_000,
          200, // a progress query every 50 ms would load the worker it measures
        );
        const killedAt = Date.now();
        await fleet.kill(victim.identity, 'SIGKILL');
        await fleet.start();
        if (await timedOutSince(stack.client, handle, killedAt, options.heartbeatTimeoutS)) {
          kills.push(killedAt);
          lastKillEpoch = victim.details?.epoch ?? at;
          options.log(`history: killed ${victim.identity} at epoch ≥ ${at}`);
          break;
        }
        if (attempt >= 5) throw new Error(`5 kills at epoch ≥ ${at} hit no running epoch`);
        options.log(`history: the kill of ${victim.identity} hit no running epoch; again`);
        from = (await epochNow(stack.client, workflowId)) + 1;
      }
    }
    await pollFor(
      async () =>
        (await epochNow(stack.client, workflowId)) >= lastKillEpoch + options.window + 2 ? true : undefined,
      `the window after the last kill`,
      1_800_000,
      200,
    );
    await stack.client.workflow.getHandle(workflowId).signal('stop');
    await stack.client.workflow.getHandle(workflowId).result();
    const chain = await chainEvents(stack.client, handle);
    const t = timeline(chain.events);
    const done = t.filter((m) => m.kind === 'completed' && /Epoch$/.test(m.activity ?? '')).map((m) => m.ms);
    const rows = options.atEpochs.map((at, i) => row(at, kills[i] ?? 0, done, t, options.window));
    return {
      continueAsNewEvery: options.continueAsNewEvery,
      heartbeatTimeoutS: options.heartbeatTimeoutS,
      runs: chain.runs,
      rows,
    };
  } finally {
    await fleet.stopAll();
  }
}

function row(
  at: number,
  killedAt: number,
  done: number[],
  t: ReturnType<typeof timeline>,
  window: number,
): HistoryLengthRow {
  const periods: number[] = [];
  for (let k = at + 1; k <= at + window && k < done.length; k++) {
    const [a, b] = [done[k - 1] as number, done[k] as number];
    if (!(a < killedAt && killedAt < b)) periods.push((b - a) / 1000);
  }
  const timedOut = t.find((m) => m.ms >= killedAt && m.kind === 'timedOut');
  const resumed =
    timedOut && t.find((m) => m.ms >= timedOut.ms && m.kind === 'started' && /Epoch$/.test(m.activity ?? ''));
  const wftStart = timedOut && t.find((m) => m.ms >= timedOut.ms && m.kind === 'wftStarted');
  const wftDone = wftStart && t.find((m) => m.ms >= wftStart.ms && m.kind === 'wftCompleted');
  return {
    epoch: at,
    epochPeriodS: summarize(periods),
    recoveryS: resumed ? (resumed.ms - killedAt) / 1000 : NaN,
    workflowTaskMs: wftStart && wftDone ? wftDone.ms - wftStart.ms : NaN,
  };
}

/** Whether an activity of the run timed out after `since`, waiting up to the heartbeat timeout + 10 s. */
async function timedOutSince(
  client: Client,
  handle: WorkflowHandleWithFirstExecutionRunId,
  since: number,
  heartbeatTimeoutS: number,
): Promise<boolean> {
  const deadline = Date.now() + (heartbeatTimeoutS + 10) * 1000;
  while (Date.now() < deadline) {
    const t = timeline((await chainEvents(client, handle)).events);
    if (t.some((m) => m.ms >= since && m.kind === 'timedOut')) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

async function epochNow(client: Client, workflowId: string): Promise<number> {
  try {
    return ((await client.workflow.getHandle(workflowId).query('progress')) as { epoch: number }).epoch;
  } catch {
    return -1; // between runs of the chain
  }
}

/** Events of every run in the continue-as-new chain, in order. */
async function chainEvents(client: Client, handle: WorkflowHandleWithFirstExecutionRunId) {
  const events = [];
  let runId: string | undefined = handle.firstExecutionRunId;
  let runs = 0;
  while (runId) {
    const history = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    runs++;
    runId = undefined;
    for (const e of history.events ?? []) {
      events.push(e);
      runId = e.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? runId;
    }
  }
  return { events: events.sort((a, b) => eventMs(a) - eventMs(b)), runs };
}
