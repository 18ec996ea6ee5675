// The real sweep workflow with real trainModel children on stub activities: the concurrency limit,
// ASHA's rung runs and continuations, PBT's forks and lineage, pause/stop forwarded to the running
// trial, continue-as-new with the sweep state, and a replay of the finished history.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Worker } from '@temporalio/worker';
import type { WorkflowHandle } from '@temporalio/client';
import type { CheckpointRef, ControlState, PreparedRun, PrepareRunInput } from '../../src/contract';
import { SWEEP } from '../../src/contract/sweep';
import type { Sweep, SweepInput, SweepProgress } from '../../src/contract/sweep';
import { planTrials } from '../../workflows/sweep-search';
import type { WorkflowTestEnv } from './harness';
import { startWorkflowEnv, withWorker } from './harness';
import type { EpochCall } from './stub-activities';
import { BATCHES, StubActivities } from './stub-activities';

let t: WorkflowTestEnv;
before(async () => (t = await startWorkflowEnv()));
after(async () => t.close());

/** The stub checkpoints' URL says their cursor: `…/epoch=0002-step=0000020.ckpt`. */
function refOf(url: string): CheckpointRef {
  const m = /epoch=(\d+)-step=(\d+)\.ckpt$/.exec(url);
  if (!m) throw new Error(`not a stub checkpoint: ${url}`);
  const [epoch, step] = [Number(m[1]), Number(m[2])];
  return { url, sha256: '0'.repeat(64), bytes: 1, epoch, batch: step - epoch * BATCHES, step };
}

/** Stubs whose prepareRun honours resumeFrom and forkedFrom, as the real one does; records the specs. */
class SweepStubs extends StubActivities {
  readonly prepared: PrepareRunInput[] = [];
  override activities() {
    const base = super.activities();
    return {
      ...base,
      prepareRun: async (input: PrepareRunInput): Promise<PreparedRun> => {
        this.prepared.push(input);
        const prepared = await base.prepareRun(input);
        const { resumeFrom, forkedFrom } = prepared.spec;
        if (resumeFrom) return { ...prepared, resumeFrom: refOf(resumeFrom) };
        if (forkedFrom) return { ...prepared, initFrom: refOf(forkedFrom.ckpt) };
        return prepared;
      },
    };
  }
}

/** valLoss of a trial: its learning rate's distance from 0.003, shrinking with the epoch. */
const lossOf = (call: EpochCall) =>
  Math.abs((call.input.spec.hparams.learningRate as number) - 0.003) * 100 + 1 / (call.input.epoch + 1);
const completeAll = (stubs: StubActivities) =>
  (stubs.onCall = (c) => c.complete({ loss: 1, valLoss: lossOf(c) }));

const space: SweepInput['space'] = { learningRate: { kind: 'range', min: 0.0005, max: 0.02, log: true } };
const input = (extra: Partial<SweepInput>): SweepInput => ({
  task: 'synthetic',
  seed: 11,
  epochs: 2,
  trials: 4,
  space,
  search: { kind: 'random' },
  concurrency: 2,
  metric: 'valLoss',
  mode: 'min',
  base: { recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0.05 } },
  ...extra,
});

let ids = 0;
async function runSweep<T>(
  stubs: StubActivities,
  sweepInput: SweepInput,
  body: (h: WorkflowHandle<Sweep>, id: string) => Promise<T>,
): Promise<T> {
  return withWorker(t, stubs, async (taskQueue) => {
    const workflowId = `sweep-${process.pid}-${++ids}`;
    const h = await t.env.client.workflow.start<Sweep>(SWEEP, { taskQueue, workflowId, args: [sweepInput] });
    return body(h, workflowId);
  });
}

const progress = (h: WorkflowHandle) => h.query<SweepProgress>('sweepProgress');

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('random: the seeded trials run as <sweep>-tNN children, at most `concurrency` at once; best by metric', async () => {
  const stubs = new SweepStubs();
  const sweepInput = input({});
  await runSweep(stubs, sweepInput, async (h, id) => {
    const first = await stubs.call(0);
    const second = await stubs.call(1);
    const p = await progress(h);
    assert.deepEqual(
      p.trials.map((tr) => tr.state),
      ['running', 'running', 'pending', 'pending'],
    );
    completeAll(stubs);
    for (const c of stubs.calls) c.complete({ loss: 1, valLoss: lossOf(c) });
    const r = await h.result();
    assert.equal(r.status, 'completed');
    assert.deepEqual(
      r.trials.map((tr) => tr.hparams),
      planTrials(sweepInput),
    );
    assert.deepEqual(
      r.trials.map((tr) => tr.runs),
      [0, 1, 2, 3].map((i) => [`${id}-t0${i}`]),
    );
    assert.ok(r.trials.every((tr) => tr.state === 'completed' && tr.epochsDone === 2));
    assert.equal(r.epochsTrained, 8);
    assert.equal(stubs.calls.length, 8);
    const dist = (tr: { hparams: Record<string, unknown> }) =>
      Math.abs((tr.hparams.learningRate as number) - 0.003);
    const expected = [...r.trials].sort((a, b) => dist(a) - dist(b))[0];
    assert.equal(r.best?.trial, expected?.id);
    // The two trials start together: either may call its first activity first.
    const firstTwo = [first.run, second.run].map((run) => run.slice(0, `${id}-t00`.length)).sort();
    assert.deepEqual(firstTwo, [`${id}-t00`, `${id}-t01`]);
  });
});

test('ASHA: rung runs of exactly the rung; a promoted trial resumes from its final .ckpt; fewer epochs than the grid', async () => {
  const stubs = new SweepStubs();
  completeAll(stubs);
  const sweepInput = input({
    epochs: 3,
    search: { kind: 'asha', reductionFactor: 2 },
    continueAsNewEvery: 1,
  });
  await runSweep(stubs, sweepInput, async (h, id) => {
    const r = await h.result();
    assert.equal(r.status, 'completed');
    assert.equal(stubs.calls.length, 4 + 2 + 1, 'rungs 1, 2, 3 epochs: 4 + 2 + 1 epoch calls');
    assert.ok(r.epochsTrained < 4 * 3);
    const winner = r.trials.find((tr) => tr.state === 'completed');
    assert.ok(winner, 'one trial reached the last rung');
    assert.deepEqual(
      winner.runs,
      [0, 1, 2].map((k) => `${id}-${winner.id}-r${k}`),
    );
    const rung1 = stubs.prepared.find((p) => p.workflowId === `${id}-${winner.id}-r1`);
    const spec1 = rung1?.spec as { resumeFrom?: string; epochs: number };
    assert.equal(spec1.epochs, 2);
    assert.match(
      spec1.resumeFrom ?? '',
      new RegExp(`/${id}-${winner.id}-r0/epoch=0001-step=0000010\\.ckpt$`),
    );
    const resumed = stubs.calls.find((c) => c.input.workflowId === `${id}-${winner.id}-r1`);
    assert.equal(resumed?.input.epoch, 1, 'the continuation trains epoch 1 only');
    assert.equal(r.trials.filter((tr) => tr.state === 'stopped').length, 3);
    assert.equal(r.decisions.length, 2);
    assert.equal(r.best?.trial, winner.id);
    // continueAsNewEvery 1: the state was carried; the last run's history replays to the same decisions.
    const history = await h.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.ok(started?.continuedExecutionRunId, 'the last rung ran in a continued-as-new run');
    await Worker.runReplayHistory({ workflowBundle: t.bundle }, history);
  });
});

test('PBT: the worst member forks the best from its checkpoint (initFrom), recorded as lineage', async () => {
  const stubs = new SweepStubs();
  completeAll(stubs);
  const sweepInput = input({ search: { kind: 'pbt', interval: 1, quantile: 0.25 } });
  await runSweep(stubs, sweepInput, async (h, id) => {
    const r = await h.result();
    assert.equal(r.lineage.length, 1);
    const [fork] = r.lineage;
    assert.ok(fork);
    assert.equal(fork.ckpt, `s3://stub/${id}-${fork.from}-g0/epoch=0001-step=0000010.ckpt`);
    const forkCall = stubs.calls.find((c) => c.input.workflowId === `${id}-${fork.trial}-g1`);
    assert.equal(forkCall?.type, 'trainEpoch');
    assert.equal(forkCall?.input.initFrom?.url, fork.ckpt, 'the fork starts from the source checkpoint');
    assert.equal(forkCall?.input.epoch, 0);
    assert.deepEqual(forkCall?.input.spec.hparams.learningRate, fork.hparams.learningRate);
    const cont = stubs.calls.find((c) => c.input.workflowId === `${id}-${fork.from}-g1`);
    assert.equal(cont?.input.ckptPath, fork.ckpt, 'the source continues from the same checkpoint');
    assert.ok(r.trials.every((tr) => tr.epochsDone === 2 && tr.state === 'completed'));
  });
});

test('pause, resume and stop on the sweep reach its running trial; no new trial starts after a stop', async () => {
  const stubs = new SweepStubs();
  await runSweep(stubs, input({ concurrency: 1, epochs: 2 }), async (h, id) => {
    const first = await stubs.call(0);
    const child = t.env.client.workflow.getHandle(`${id}-t00`);
    const controls = () => child.query<ControlState>('controls');
    await h.signal('pause');
    await until(async () => (await controls()).paused, 'the trial to be paused');
    assert.equal((await progress(h)).status, 'paused');
    await h.signal('resume');
    await until(async () => !(await controls()).paused, 'the trial to resume');
    await h.signal('stop');
    await until(async () => (await controls()).stopRequested, 'the trial to get the stop');
    first.complete({ loss: 1, valLoss: 0.5 });
    const r = await h.result();
    assert.equal(r.status, 'stopped');
    assert.equal(stubs.calls.length, 1);
    assert.deepEqual(
      r.trials.map((tr) => tr.state),
      ['stopped', 'pending', 'pending', 'pending'],
    );
  });
});

test('bad input fails the sweep at once with what to fix', async () => {
  const stubs = new SweepStubs();
  await runSweep(stubs, input({ search: { kind: 'grid' } }), async (h) => {
    await assert.rejects(h.result(), (err: Error) =>
      /grid search needs choices/.test(String((err.cause as Error)?.message)),
    );
  });
});
