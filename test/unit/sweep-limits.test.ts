// Sweep ceilings (issue 22, item 7): 20,000 random trials made a 2.45 MB sweep state, over Temporal's
// 2 MB payload limit at the first continue-as-new. Over-cap input is refused with the limit and what
// to do, by the client before anything starts; at the caps the state (driven through every phase by
// the real plan, with worst-case contents) stays under 1 MiB. Also: ASHA and PBT, which continue or
// fork trials from checkpoints, are refused with a data-parallel base spec (issue 22, item 3).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'node:test';
import type { Client } from '@temporalio/client';
import type { CheckpointRef, TrainingResult } from '../../src/contract';
import type { SweepInput, SweepState } from '../../src/contract/sweep';
import {
  gridSize,
  plannedTrialRuns,
  SWEEP_LIMITS,
  sweepInputProblems,
  sweepStartProblems,
  trialHparamsBytes,
  utf8Bytes,
} from '../../src/contract/sweep';
import { defaultSweepId, startSweep, validateSweepInput } from '../../src/sweep/client';
import { InvalidSpecError } from '../../src/spec';
import {
  applyFailure,
  applyRun,
  bestTrial,
  decide,
  historyLimit,
  initialState,
  LINEAGE_LIMIT,
  markStarted,
  nextJobs,
} from '../../workflows/sweep-plan';

const MiB = 1024 * 1024;

const random = (extra: Partial<SweepInput> = {}): SweepInput => ({
  task: 'synthetic',
  seed: 1,
  epochs: 2,
  trials: 8,
  space: { learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true } },
  search: { kind: 'random' },
  metric: 'valLoss',
  mode: 'min',
  ...extra,
});

const refused = (input: SweepInput, pattern: RegExp, sweepId?: string) => {
  assert.deepEqual(sweepInputProblems(input), [], 'well-formed');
  const problems = sweepStartProblems(input, sweepId);
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected ${pattern} in ${JSON.stringify(problems)}`,
  );
};

test('over the caps: each refusal names the limit and what to do', () => {
  refused(random({ trials: 20_000 }), /^trials: 20000 is over the limit of 500: use --trials 500 or fewer/);
  assert.deepEqual(sweepStartProblems(random({ trials: 500 })), []);

  const choices = (n: number) => ({
    kind: 'choice' as const,
    values: Array.from({ length: n }, (_, i) => i),
  });
  const grid = random({ search: { kind: 'grid' }, space: { a: choices(30), b: choices(30) } });
  assert.equal(gridSize(grid.space), 900);
  refused(grid, /^space: the grid has 900 points, over the limit of 500 trials: give fewer choices/);
  // The size is a product, never the list: 100^10 points are counted at once.
  const huge = random({
    search: { kind: 'grid' },
    space: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`p${i}`, choices(100)])),
  });
  refused(huge, /the grid has 100000000000000000000 points/);

  refused(
    random({ trials: 100, epochs: 30, search: { kind: 'pbt', interval: 1 } }),
    /^search: 100 members × 30 generations make 3000 trial runs, over the limit of 2000: use fewer --trials or a longer --interval/,
  );
  // A PBT over a billion epochs is refused by arithmetic, before its generations would be listed.
  refused(random({ epochs: 1e9, search: { kind: 'pbt', interval: 1 } }), /8000000000 trial runs/);
  assert.equal(
    plannedTrialRuns(random({ trials: 8, epochs: 3, search: { kind: 'asha', reductionFactor: 2 } })),
    8 + 4 + 2,
  );

  refused(
    random({ base: { hparams: { notes: 'x'.repeat(40_000) } } }),
    /^input: \d+ bytes as JSON, over the limit of 32768: use fewer or shorter choices/,
  );
  refused(
    random({ space: { [`n${'a'.repeat(300)}`]: { kind: 'choice', values: [1, 2] } } }),
    /^space: a trial's hyperparameters take up to \d+ bytes as JSON, over the limit of 256/,
  );
  refused(random(), /^id: 65 characters, over the limit of 64: give a shorter --workflow-id/, 's'.repeat(65));
  // The default id always fits, whatever the task's name.
  assert.ok(defaultSweepId({ task: 't'.repeat(100) }).length <= SWEEP_LIMITS.sweepIdChars);
});

test('ASHA and PBT with a data-parallel base spec are refused; grid and random are not', () => {
  const parallel = { shards: 2, syncEverySteps: 10 };
  for (const search of [{ kind: 'asha' }, { kind: 'pbt', interval: 1 }] as const) {
    refused(
      random({ search, base: { parallel } }),
      new RegExp(
        `^search: ${search.kind} continues or forks trials from their checkpoints, .*use --search grid or random`,
      ),
    );
  }
  assert.deepEqual(sweepStartProblems(random({ base: { parallel } })), []);
  assert.deepEqual(
    sweepStartProblems(
      random({
        search: { kind: 'grid' },
        space: { hidden: { kind: 'choice', values: [4, 8] } },
        base: { parallel },
      }),
    ),
    [],
  );
});

test('the client refuses over-cap input with the message before anything starts', async () => {
  let starts = 0;
  const client = { workflow: { start: async () => void starts++ } } as unknown as Client;
  const over = random({ trials: 20_000 });
  assert.throws(
    () => validateSweepInput(over),
    (err: unknown) =>
      err instanceof InvalidSpecError && /sweep trials: 20000 is over the limit of 500/.test(err.message),
  );
  await assert.rejects(startSweep(client, over), /sweep trials: 20000 is over the limit of 500/);
  await assert.rejects(
    startSweep(client, random(), { workflowId: 'x'.repeat(65) }),
    /sweep id: 65 characters, over the limit of 64/,
  );
  await assert.rejects(
    startSweep(
      client,
      random({ search: { kind: 'asha' }, base: { parallel: { shards: 2, syncEverySteps: 10 } } }),
    ),
    /sweep search: asha continues or forks trials/,
  );
  assert.equal(starts, 0, 'no workflow was started');
  await startSweep(client, random());
  assert.equal(starts, 1, 'an input within the caps starts');
});

test('`durable-fit sweep start` refuses 20,000 trials with the limit, exit 2, without connecting', async () => {
  // Port 1 has no Temporal: a CLI that got past its checks would fail to connect instead.
  const env = { ...process.env, TEMPORAL_ADDRESS: '127.0.0.1:1', TEMPORAL_NAMESPACE: 'default' };
  const args = ['bin/durable-fit.cjs', 'sweep', 'start', '--task', 'synthetic', '--search', 'random'];
  const run = promisify(execFile);
  const err = await run(
    process.execPath,
    [...args, '--trials', '20000', '--space', 'learningRate=0.001..0.1'],
    {
      env,
      timeout: 60_000,
    },
  ).then(
    () => assert.fail('the sweep start should have been refused'),
    (e: { code?: number; stderr?: string }) => e,
  );
  assert.equal(err.code, 2);
  assert.match(err.stderr ?? '', /sweep trials: 20000 is over the limit of 500: use --trials 500 or fewer/);
  assert.doesNotMatch(err.stderr ?? '', /connect|ECONNREFUSED|unavailable/i);
});

// --- the state at the caps ------------------------------------------------------------------------

const SWEEP_ID = `s${'w'.repeat(SWEEP_LIMITS.sweepIdChars - 1)}`;
const BUCKET = 'b'.repeat(63);
/** A metric whose JSON is as long as a double's gets (23 characters). */
const metricOf = (i: number) => -(1 / 3 + i * 1e-9) * 1e-100;

/** A trial run's result: a checkpoint URL as long as a run folder (128 characters) allows, every epoch's metric. */
function resultOf(spec: { epochs: number }, startCursor: number, i: number): TrainingResult {
  const ckpt = (epoch: number): CheckpointRef => ({
    url: `s3://${BUCKET}/${'r'.repeat(128)}/parallel/round=${String(epoch).padStart(4, '0')}/global.ckpt`,
    sha256: 'a'.repeat(64),
    bytes: 123_456_789,
    epoch,
    batch: 12_345,
    step: 1_234_567,
  });
  const epochs = Array.from({ length: spec.epochs - startCursor }, (_, k) => ({
    epoch: startCursor + k,
    ckpt: ckpt(startCursor + k + 1),
    metrics: { valLoss: metricOf(i + k) },
    weightsSha256: 'c'.repeat(64),
  }));
  return {
    status: 'completed',
    runName: 'r'.repeat(128),
    finalCheckpoint: ckpt(spec.epochs),
    weightsSha256: 'd'.repeat(64),
    epochs,
    recoveries: [],
  };
}

/**
 * Drives the real plan through every phase: every 7th run fails with a 10 kB message, the others
 * report every epoch. Returns the largest continue-as-new payload ([input, state], as the workflow
 * passes it) and result seen.
 */
function worstSizes(input: SweepInput): { payload: number; result: number; state: SweepState } {
  const state = initialState(input);
  let [payload, result, runs] = [0, 0, 0];
  for (;;) {
    const jobs = nextJobs(input, state, SWEEP_ID);
    if (jobs.length === 0) break;
    for (const job of jobs) {
      markStarted(state, job);
      if (++runs % 7 === 0) applyFailure(state, job, `trial run failed: ${'e'.repeat(10_000)}`);
      else applyRun(input, state, job, resultOf(job.spec as { epochs: number }, job.startCursor, runs));
    }
    decide(input, state);
    payload = Math.max(payload, utf8Bytes(JSON.stringify([input, state])));
    result = Math.max(result, utf8Bytes(JSON.stringify({ ...state, best: bestTrial(input, state) })));
  }
  assert.ok(runs > 0);
  assert.ok(runs <= SWEEP_LIMITS.trialRuns, `${runs} runs`);
  return { payload, result, state };
}

/** Hyperparameters whose JSON is at the cap (256 bytes): a long string choice and a range (or, for a grid, choices). */
const wideSpace = (choices: number, grid = false): SweepInput['space'] => ({
  [`c${'h'.repeat(60)}`]: {
    kind: 'choice',
    values: Array.from({ length: choices }, (_, i) => `${i}`.padStart(grid ? 132 : 138, 'v')),
  },
  [`l${'r'.repeat(20)}`]: grid
    ? { kind: 'choice', values: [metricOf(0)] }
    : { kind: 'range', min: 1e-300, max: 1, log: true },
  ...(grid ? { n: { kind: 'choice', values: Array.from({ length: 25 }, (_, i) => i) } } : {}),
});

const AT_CAPS: [string, SweepInput][] = [
  ['random, 500 trials × 40 epochs', random({ trials: 500, epochs: 40, space: wideSpace(4) })],
  [
    'grid of 500 points × 20 epochs',
    random({
      search: { kind: 'grid' },
      epochs: 20,
      space: wideSpace(20, true),
    }),
  ],
  [
    'ASHA, 500 trials, factor 2 to 64 epochs',
    random({ trials: 500, epochs: 64, search: { kind: 'asha', reductionFactor: 2 }, space: wideSpace(4) }),
  ],
  [
    'PBT, 100 members × 20 generations, quantile 0.5',
    random({
      trials: 100,
      epochs: 20,
      search: { kind: 'pbt', interval: 1, quantile: 0.5 },
      space: wideSpace(4),
    }),
  ],
  [
    'PBT, 500 members × 4 generations of 10 epochs',
    random({
      trials: 500,
      epochs: 40,
      search: { kind: 'pbt', interval: 10, quantile: 0.5 },
      space: wideSpace(4),
    }),
  ],
];

/** The input with a base spec that brings its JSON to the cap (32 KiB). */
function padded(input: SweepInput): SweepInput {
  const bare = utf8Bytes(JSON.stringify({ ...input, base: { hparams: { notes: '' } } }));
  return { ...input, base: { hparams: { notes: 'x'.repeat(SWEEP_LIMITS.inputBytes - bare) } } };
}

for (const [name, unpadded] of AT_CAPS) {
  test(`at the caps (${name}), the continue-as-new payload and the result stay under 1 MiB`, () => {
    const input = padded(unpadded);
    assert.equal(utf8Bytes(JSON.stringify(input)), SWEEP_LIMITS.inputBytes);
    assert.deepEqual(sweepInputProblems(input), []);
    assert.deepEqual(sweepStartProblems(input, SWEEP_ID), [], 'the input is within the caps');
    assert.equal(trialHparamsBytes(input.space), SWEEP_LIMITS.trialHparamsBytes);
    const { payload, result, state } = worstSizes(input);
    assert.ok(payload < MiB, `continue-as-new payload ${payload} bytes`);
    assert.ok(result < MiB, `result ${result} bytes`);
    assert.ok(state.lineage.length <= LINEAGE_LIMIT);
    assert.ok(state.trials.every((t) => t.history.length <= historyLimit(state.trials.length)));
    assert.ok(state.trials.every((t) => (t.error ?? '').length <= 300));
  });
}

test('history kept per trial: 500 up to 10 trials, fewer beyond (5,000 points in all, at least 10 each)', () => {
  assert.equal(historyLimit(1), 500);
  assert.equal(historyLimit(10), 500);
  assert.equal(historyLimit(100), 50);
  assert.equal(historyLimit(500), 10);
});
