// `npm run bench -- --quick` end to end, so the benchmark code cannot rot: every section runs on
// its own isolated stack at a tiny size (model sizes, history length, the naive loop and an 8 s soak
// included) and the headline figures come out as numbers, each judged against bench/targets.ts.
// The peer section installs tensorflow-cpu into .venv on first use (scripts/python-venv.sh keras).
// Output goes to a temp dir.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

// The quick bench takes ~2-3 minutes on 2 idle cores, plus ~20 s for the peer section and up to ~2 min
// for its first tensorflow-cpu install; slack for a box shared with other tests.
const LIMIT_MS = 480_000;

test('npm run bench -- --quick writes every headline figure', { timeout: LIMIT_MS + 30_000 }, async () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-bench-'));
  try {
    const started = Date.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/main.ts', '--quick', '--out', out], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-20_000)));
    const timer = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS);
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    clearTimeout(timer);
    assert.equal(code, 0, `bench --quick failed after ${Date.now() - started} ms:\n${stderr}`);

    const { headline } = JSON.parse(fs.readFileSync(path.join(out, 'benchmarks.json'), 'utf8')) as {
      headline: Record<string, unknown>;
    };
    for (const key of [
      'overheadRatio',
      'boundaryGapMs',
      'stallLostFraction',
      'checkpointSaveVsRaw',
      'checkpointLoadVsRaw',
      'recoveryOverHeartbeatS',
      'sigtermResumeS',
      'lostBatchesPerCrash',
      'naiveRatio',
      'soakWorkerRssSlopeMbPerH',
      'scaleEpochsPerMin',
    ]) {
      assert.equal(typeof headline[key], 'number', `${key} is ${String(headline[key])}`);
      assert.ok(Number.isFinite(headline[key]), `${key} is finite`);
    }
    for (const key of [
      'historyRecoveryS',
      'historyEpochPeriodS',
      'sizesOverheadByMb',
      'parallelProjectedSpeedupByShards',
      'parallelBytesPerRoundByShards',
      'peerRatioByModel',
      'peerVsBackupRatioByModel',
      'goodputByFaultEveryS',
    ]) {
      const values = Object.values(headline[key] as Record<string, number>);
      assert.ok(
        values.length > 0 && values.every(Number.isFinite),
        `${key}: ${JSON.stringify(headline[key])}`,
      );
    }
    assert.equal(headline.scaleAllCompleted, true);
    assert.match(
      String(headline.peerBackend),
      /^(tensorflow|wasm|cpu)/,
      'the peer section names its backend',
    );
    assert.deepEqual(headline.errors, {});
    const md = fs.readFileSync(path.join(out, 'benchmarks.md'), 'utf8');
    for (const heading of [
      '## Method',
      '## Machine',
      '## Overhead',
      '## Epoch boundary',
      '## Stall',
      '## Checkpoint I/O',
      '## Recovery',
      '### Phases: SIGKILL',
      '## Model size',
      '## History length',
      '## durable-fit vs the naive loop',
      '## Memory soak',
      '## Scale',
      '## Engine',
      '## Data-parallel rounds',
      '## durable-fit vs Keras on the same TensorFlow',
      '## Goodput under failures',
    ])
      assert.ok(md.includes(heading), `benchmarks.md has ${heading}`);
    // Every ratio says which way is better, and no figure is "met" without a target to meet.
    for (const line of md
      .split('\n')
      .filter((l) => /÷/.test(l) && l.startsWith('| ') && l.includes('---') === false))
      if (/^\| (epoch target|task|size|checkpoint MB|naive|model)/.test(line))
        assert.match(line, /(lower|higher) is better/, `header without a direction: ${line}`);
    const headlineTable = md.slice(
      md.indexOf('## Headline'),
      md.indexOf('\n## ', md.indexOf('## Headline') + 5),
    );
    for (const row of headlineTable.split('\n').filter((l) => l.endsWith('| met |')))
      assert.doesNotMatch(row, /\| — \|/, `"met" without a target: ${row}`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
