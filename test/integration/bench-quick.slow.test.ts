// `npm run bench -- --quick` end to end, so the benchmark code cannot rot: every section runs on
// its own isolated stack and the headline figures come out as numbers. Output goes to a temp dir.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const LIMIT_MS = 240_000; // the quick bench takes < 3 minutes on 2 idle cores; slack for a busy CI box

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
      'stallFraction',
      'checkpointSaveVsRaw',
      'checkpointLoadVsRaw',
      'recoveryOverHeartbeatS',
      'sigtermResumeS',
      'lostBatchesPerCrash',
      'scaleEpochsPerMin',
    ]) {
      assert.equal(typeof headline[key], 'number', `${key} is ${String(headline[key])}`);
      assert.ok(Number.isFinite(headline[key]), `${key} is finite`);
    }
    assert.equal(headline.scaleAllCompleted, true);
    assert.deepEqual(headline.errors, {});
    const md = fs.readFileSync(path.join(out, 'benchmarks.md'), 'utf8');
    for (const heading of [
      '## Machine',
      '## Overhead',
      '## Stall',
      '## Checkpoint I/O',
      '## Recovery',
      '## Scale',
      '## Engine',
    ])
      assert.ok(md.includes(heading), `benchmarks.md has ${heading}`);
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
});
