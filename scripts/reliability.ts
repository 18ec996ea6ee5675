/**
 * `npm run reliability`: runs the fault-matrix tier (test/fault/matrix, through `npm test`'s own
 * runner: scripts/test.ts starts the test stack) and renders docs/reliability.md from the rows its
 * cells wrote to test-artifacts/reliability/<cell>.json, with the date, the machine and what of
 * issue 22's matrix is covered where.
 *
 *   npm run reliability                    run the matrix, then render
 *   npm run reliability -- --render-only   render from the rows of the last run
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import prettier from 'prettier';
import { TOXIPROXY_SERVER } from '../src/stack/versions';
import type { MatrixRow } from '../test/fault/matrix/cell';
import { ROW_DIR } from '../test/fault/matrix/cell';

const MATRIX_DIR = path.join('test', 'fault', 'matrix');
const RUN_FILE = path.join(ROW_DIR, 'run.json');
const DOC = path.join('docs', 'reliability.md');

/** What the run of the tier measured about itself. */
interface TierRun {
  startedAt: string;
  wallSeconds: number;
  exitCode: number;
  files: string[];
  loadBefore: number[];
  loadAfter: number[];
}

function matrixFiles(): string[] {
  return fs
    .readdirSync(MATRIX_DIR)
    .filter((f) => f.endsWith('.test.ts'))
    .sort()
    .map((f) => path.join(MATRIX_DIR, f));
}

async function runTier(): Promise<TierRun> {
  for (const f of fs.existsSync(ROW_DIR) ? fs.readdirSync(ROW_DIR) : [])
    if (f.endsWith('.json')) fs.rmSync(path.join(ROW_DIR, f));
  const files = matrixFiles();
  const startedAt = new Date();
  const loadBefore = os.loadavg();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/test.ts', ...files], {
    stdio: 'inherit',
  });
  const exitCode = await new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
  );
  const run: TierRun = {
    startedAt: startedAt.toISOString(),
    wallSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    exitCode,
    files,
    loadBefore,
    loadAfter: os.loadavg(),
  };
  fs.mkdirSync(ROW_DIR, { recursive: true });
  fs.writeFileSync(RUN_FILE, `${JSON.stringify(run, null, 2)}\n`);
  return run;
}

function readRows(): MatrixRow[] {
  return fs
    .readdirSync(ROW_DIR)
    .filter((f) => f.endsWith('.json') && f !== 'run.json')
    .map((f) => JSON.parse(fs.readFileSync(path.join(ROW_DIR, f), 'utf8')) as MatrixRow)
    .sort((a, b) => a.cell.localeCompare(b.cell));
}

const num = (n: number | undefined) => (n === undefined ? '–' : String(n));

/** Issue 22's faults and where each is exercised: this matrix's cells, or fault tests outside it. */
const FAULTS: { fault: string; cells: RegExp | null; elsewhere: string }[] = [
  {
    fault: 'worker SIGKILL',
    cells: /^worker-kill-/,
    elsewhere:
      'kill-worker (5 kills mid-epoch), epoch-end-window (between the epoch-end heartbeat and the completion), parallel-kill (data-parallel round), sweep-chaos (one per ASHA rung), mixed-fleet',
  },
  {
    fault: 'trainer child SIGKILL',
    cells: /^trainer-kill-/,
    elsewhere: 'trainer-kill (mid-epoch after checkpoints)',
  },
  { fault: 'trainer SIGSTOP', cells: null, elsewhere: 'trainer-kill (mid-epoch; the watchdog kills it)' },
  {
    fault: 'worker SIGTERM',
    cells: null,
    elsewhere: 'preempt-worker (mid-epoch), parallel-kill (a shard), worker-exit (idle)',
  },
  {
    fault: 'S3 refused (server stopped)',
    cells: /^s3-refused-/,
    elsewhere:
      'infrastructure (MinIO stopped 30 s mid-upload), dataset-minio-restart (MinIO restarted as a streamed run fetches a shard mid-epoch; down past the budget)',
  },
  {
    fault: 'S3 hung (connections black-holed)',
    cells: /^s3-hung-/,
    elsewhere: 's3-hung (MinIO SIGSTOPped), dataset-minio-restart (SIGSTOPped as a shard fetch is due)',
  },
  { fault: 'S3 slow', cells: /^s3-slow-/, elsewhere: '–' },
  { fault: 'S3 answering 500s', cells: /^s3-500s-/, elsewhere: '–' },
  {
    fault: 'Temporal server restarted',
    cells: null,
    elsewhere: 'infrastructure (mid-epoch), sweep-chaos (during a sweep)',
  },
  {
    fault: 'Temporal unreachable from the worker for 2× the heartbeat timeout',
    cells: /^temporal-/,
    elsewhere: '–',
  },
  {
    fault: 'a lost activity completion',
    cells: null,
    elsewhere: 'epoch-end-window (worker killed after the epoch-end heartbeat, before the completion)',
  },
];

/** Issue 22's phases: the matrix cells that drive each, and what is not driven there. */
const PHASES: { phase: string; cells: RegExp; gap?: string }[] = [
  { phase: 'before the first checkpoint', cells: /before-first-checkpoint/ },
  { phase: 'mid-epoch after an intra-epoch checkpoint', cells: /mid-epoch/ },
  { phase: 'during an upload', cells: /during-upload/ },
  {
    phase: 'between the epoch-end heartbeat and completion',
    cells: /during-epoch-end/,
    gap: 'all: worker SIGKILL there is epoch-end-window (its S3 proxy holds the epoch log PUT); a Temporal cut in that window (the completion lost on the way) is not driven',
  },
  {
    phase: 'during validation',
    cells: /during-validation/,
    gap: 'network faults: validation sends nothing a proxy could hold',
  },
  {
    phase: 'during retention',
    cells: /during-retention/,
    gap: 'faults other than worker SIGKILL',
  },
  {
    phase: 'during a data-parallel merge',
    cells: /during-merge/,
    gap: 'faults other than worker SIGKILL (parallel-kill and parallel-hosts kill shards mid-round)',
  },
  {
    phase: 'during a sweep decision',
    cells: /during-sweep-decision/,
    gap: 'faults other than worker SIGKILL (sweep-chaos kills trial workers and restarts Temporal during a sweep)',
  },
];

function render(rows: MatrixRow[], run: TierRun | undefined): string {
  const cpus = os.cpus();
  const lines: string[] = [];
  const passed = rows.filter((r) => r.status === 'pass').length;
  lines.push(
    '# Reliability: the fault matrix',
    '',
    '<!-- Generated by `npm run reliability` (scripts/reliability.ts) from test-artifacts/reliability/*.json. Do not edit by hand. -->',
    '',
    "Issue 22's fault matrix, measured: each cell drives a real training run (workers as separate",
    'processes, the real Temporal dev server and MinIO) to a phase and injects a fault there: a network',
    `fault through a real [toxiproxy](https://github.com/Shopify/toxiproxy) (\`${TOXIPROXY_SERVER.module}@${TOXIPROXY_SERVER.version}\`,`,
    'built by `durable-fit stack build` into the tools cache) between the workers and MinIO or the',
    'Temporal frontend, or a SIGKILL of a worker or trainer child held in a phase no proxy reaches',
    '(validation, retention, a data-parallel merge, a sweep decision). Every cell checks the run',
    "completes (or fails naming its budget) with the uninterrupted run's weights, that it resumed from",
    'the newest durable checkpoint (`fromCkpt`, `atBatch`), the steps redone, the time from the fault',
    'to the resumed attempt, and that nothing is left over (see "No leftovers"). Regenerate with',
    '`npm run reliability` (runs `test/fault/matrix/` through `npm test`, then writes this file);',
    "`npm run reliability -- --render-only` rewrites it from the last run's rows.",
    '',
    '## The run',
    '',
  );
  if (run) {
    lines.push(
      `- date: ${run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}`,
      `- tier wall time: ${run.wallSeconds} s (${run.files.length} files, \`node --test --test-concurrency=2\`, test stack start included); runner exit code ${run.exitCode}`,
      `- load average (1/5/15 min) before: ${run.loadBefore.map((l) => l.toFixed(2)).join(' / ')}, after: ${run.loadAfter.map((l) => l.toFixed(2)).join(' / ')}`,
    );
  }
  lines.push(
    `- machine: ${cpus.length} × ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB memory, ${os.type()} ${os.release()} ${os.arch()}, Node.js ${process.version}`,
    `- cells: ${rows.length}, ${passed} pass, ${rows.length - passed} fail`,
    '',
    'Every cell trains `gated-synthetic` (2 epochs × 128 batches of 16, a 16-64-1 MLP, ~50 KB checkpoints)',
    'on the `cpu` backend with a checkpoint every 8 batches, a 3 s heartbeat timeout, 1 s backoff and',
    'a 3 s S3 deadline (`DFIT_S3_DEADLINE=3s`, `DFIT_S3_DEADLINE_PER_MIB=1s`). Until the fault has done',
    'its work every batch sleeps 100 ms (the gate; 50 ms in the validation and retention cells), then the',
    'rest trains at full speed. The retention cell adds `keepLast 1`. The merge cell trains `synthetic`',
    'data-parallel (2 shards, 2 rounds of 12 steps; its weights are compared with',
    'test/integration/parallel-reference.ts), the sweep cell an ASHA sweep of `synthetic` (3 trials one at',
    'a time, rungs of 1 and 2 epochs; compared with an uninterrupted sweep of the same seed).',
    '',
    '## The matrix',
    '',
    '| cell | fault | phase | result | recoveries | steps redone (ledger) | interval / bound | fault → failure s | fault → resumed s (bound) | fault → closed s |',
    '| ---- | ----- | ----- | ------ | ---------- | --------------------- | ---------------- | ----------------- | ------------------------- | ---------------- |',
  );
  for (const r of rows) {
    const redone =
      r.ledgerStepsRedone !== undefined && r.ledgerStepsRedone !== r.stepsRedone
        ? `${num(r.stepsRedone)} (${r.ledgerStepsRedone})`
        : num(r.stepsRedone);
    const bound = r.redoneBound ? `${r.interval} / ${r.redoneBound}` : String(r.interval);
    const resumed =
      r.recoverySeconds === undefined
        ? '–'
        : `${r.recoverySeconds}${r.recoveryBoundSeconds !== undefined ? ` (${r.recoveryBoundSeconds})` : ''}`;
    lines.push(
      `| \`${r.cell}\` | ${r.fault} | ${r.phase} | ${r.status === 'pass' ? 'pass' : '**fail**'} | ${num(r.recoveries)} | ${redone} | ${bound} | ${num(r.detectSeconds)} | ${resumed} | ${num(r.completionSeconds)} |`,
    );
  }
  lines.push(
    '',
    '"steps redone": the largest over the run\'s recoveries of `atBatch` minus the resumed checkpoint\'s',
    "batch (test/helpers/resume-point.ts); in brackets the run's goodput ledger where it differs.",
    '"fault → failure": until the failed attempt closed in the history (the activity or the server',
    'noticed); "fault → resumed": until the next attempt started on a worker; "closed": the run ended.',
    '',
    '## Each cell',
    '',
  );
  for (const r of rows) {
    lines.push(`- **\`${r.cell}\`** (${r.status}): ${r.expect}.`);
    if (r.recovery) lines.push(`  Recovery: ${r.recovery.replace(/\|/g, '/')}`);
    for (const note of r.notes ?? []) lines.push(`  Note: ${note}.`);
    if (r.leftovers) lines.push(`  Leftovers: ${r.leftovers}.`);
    if (r.error) lines.push(`  Failed: ${r.error.replace(/\|/g, '/')}`);
  }
  const known = rows.filter((r) => r.todo || r.status !== 'pass');
  if (known.length) {
    lines.push(
      '',
      '## Known bugs and gaps the matrix found',
      '',
      'Cells that run into one are `todo` in their test file: they run in `npm test` and report, without',
      'failing it, until the code they point at is fixed (then they pass, and the `todo` goes).',
      '',
    );
    for (const r of known)
      lines.push(
        `- \`${r.cell}\` (${r.status} in this run): ${GAPS[r.cell] ?? r.todo ?? r.error ?? 'see the row'}`,
      );
  }
  lines.push('', "## Issue 22's faults: where each is exercised", '');
  lines.push(
    '| fault | matrix cells | outside the matrix (test/fault/) |',
    '| ----- | ------------ | -------------- |',
  );
  for (const f of FAULTS) {
    const cells = f.cells ? rows.filter((r) => f.cells?.test(r.cell)).map((r) => `\`${r.cell}\``) : [];
    lines.push(`| ${f.fault} | ${cells.length ? cells.join(', ') : '–'} | ${f.elsewhere} |`);
  }
  lines.push(
    '',
    'SIGKILLs in the phases the other fault tests do not reach are matrix cells',
    "(test/fault/matrix/kill-*.slow.test.ts): a trainer is held inside validation by the gated task's",
    'metric functions (test/helpers/gated-task.ts, which say so in a marker file), retention between two',
    "DELETEs and a merge in its global checkpoint's PUT by the S3 hold proxy, a sweep's decision by",
    "holding its rung's last trial before its completion. The other process faults (kills, stops,",
    'SIGTERM, a Temporal restart) stay in their own fault tests: they need no proxy, and their resume',
    'points are asserted there (test/helpers/resume-point.ts). S3 answering 500s goes through an HTTP',
    'proxy of the matrix (test/fault/matrix/s3-error-proxy.ts) behind toxiproxy: toxiproxy works on TCP',
    'and cannot answer with an HTTP status.',
    '',
    "## Issue 22's phases: where each is driven",
    '',
    '| phase | matrix cells | not driven in the matrix |',
    '| ----- | ------------ | ------------------------ |',
  );
  for (const p of PHASES) {
    const cells = rows.filter((r) => p.cells.test(r.cell)).map((r) => `\`${r.cell}\``);
    lines.push(`| ${p.phase} | ${cells.length ? cells.join(', ') : '–'} | ${p.gap ?? '–'} |`);
  }
  lines.push(
    '',
    '## No leftovers',
    '',
    'After each cell that passed, cell.ts checks (the row\'s "Leftovers" line): no upload journal',
    '(`.uploads/`) in the run folders the cell wrote and no incomplete multipart upload of any key they',
    "hold or a journal names (MinIO lists those by exact key only); no process of the file's fleet (found",
    'by an environment marker its workers and trainers carry) outliving its parent, such as the trainer',
    'of a SIGKILLed worker; no `dfit-worker-*` scratch folder beyond one per live worker and no',
    '`dfit-trainer-*` transfer folder beyond one per live trainer; none of a SIGKILLed worker once',
    'another worker started (every worker removes those when it starts).',
    '',
  );
  return lines.join('\n');
}

/** What a failing cell means, for the cells that fail on a known cause. */
const GAPS: Record<string, string> = {
  'temporal-black-holed-before-first-checkpoint':
    "a black-holed worker's long polls stay open at the server, which hands them the run's workflow tasks: each is lost until the workflow task timeout (10 s by default). The stack's frontend closes dead connections within 3 s (keepalive 1 s + 2 s, `DEAD_WORKER_CONFIG` in src/stack/servers.ts), before the cell's 6 s heartbeat timeout fires; if this cell fails, check that the server runs with that dynamic config (docs/recovery.md).",
};

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { 'render-only': { type: 'boolean' } } });
  const run = values['render-only']
    ? fs.existsSync(RUN_FILE)
      ? (JSON.parse(fs.readFileSync(RUN_FILE, 'utf8')) as TierRun)
      : undefined
    : await runTier();
  const rows = fs.existsSync(ROW_DIR) ? readRows() : [];
  if (rows.length === 0) {
    console.error(`reliability: no rows in ${ROW_DIR}; run \`npm run reliability\` first`);
    return 1;
  }
  const config = (await prettier.resolveConfig(DOC)) ?? {};
  fs.writeFileSync(DOC, await prettier.format(render(rows, run), { ...config, filepath: DOC }));
  console.error(`reliability: ${rows.length} cells → ${DOC}`);
  return run?.exitCode ?? 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`reliability: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
