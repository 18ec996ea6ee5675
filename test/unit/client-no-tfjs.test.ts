/**
 * `durable-fit/client` and the CLI's spec validation load no tfjs: a task's descriptor (name, hparams
 * schema, metric names) lives apart from its tfjs builder (src/training/tasks/descriptors.ts,
 * catalog.ts). Each case runs in a fresh Node process whose module loader records every module it
 * loads; the client entry is the source file that package.json's `exports["./client"]` maps to.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';

const root = path.resolve(__dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-no-tfjs-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));

/** Preloaded in the child: records each module whose request or file is a tfjs package. */
const RECORDER = `
const Module = require('node:module');
const fs = require('node:fs');
const load = Module._load;
const seen = new Set();
Module._load = function (request, parent, isMain) {
  if (/^@tensorflow\\//.test(request)) seen.add(request);
  return load.apply(this, arguments);
};
process.on('exit', () => {
  for (const file of Object.keys(require.cache)) {
    const m = /node_modules[\\\\/](@tensorflow[\\\\/][^\\\\/]+)/.exec(file);
    if (m) seen.add(m[1].replace(/\\\\/g, '/'));
  }
  fs.writeFileSync(process.env.DFIT_LOADED_FILE, JSON.stringify([...seen].sort()));
});
`;
const recorder = path.join(work, 'record-loads.cjs');
fs.writeFileSync(recorder, RECORDER);

/** Runs `script` (CommonJS, TypeScript sources through tsx) in a fresh process. */
function runFresh(name: string, script: string) {
  const file = path.join(work, `${name}.cjs`);
  const loadedFile = path.join(work, `${name}.loaded.json`);
  fs.writeFileSync(file, script);
  const child = spawnSync(process.execPath, ['-r', 'tsx/cjs', '-r', recorder, file], {
    cwd: root,
    encoding: 'utf8',
    env: { ...process.env, DFIT_LOADED_FILE: loadedFile, DFIT_TASK_MODULES: '' },
    timeout: 60_000,
  });
  const loaded = fs.existsSync(loadedFile)
    ? (JSON.parse(fs.readFileSync(loadedFile, 'utf8')) as string[])
    : undefined;
  return { ...child, loaded };
}

/** The source file behind a package.json export (`./dist/src/client.js` → `src/client.ts`). */
function sourceOfExport(subpath: string): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
    exports: Record<string, string | { default: string }>;
  };
  const entry = pkg.exports[subpath];
  const built = typeof entry === 'string' ? entry : entry?.default;
  assert.ok(built, `package.json exports ${subpath}`);
  const source = path.join(root, built.replace(/^\.\/dist\//, '').replace(/\.js$/, '.ts'));
  assert.ok(fs.existsSync(source), `${built} is built from ${source}`);
  return source;
}

test('the recorder sees tfjs where it is loaded: the trainer side of the tasks', () => {
  const tasks = path.join(root, 'src/training/tasks/index.ts');
  const run = runFresh('trainer-side', `require(${JSON.stringify(tasks)});`);
  assert.equal(run.status, 0, run.stderr);
  assert.ok(run.loaded?.includes('@tensorflow/tfjs-layers'), `loaded: ${run.loaded?.join(', ')}`);
});

test('durable-fit/client validates specs and sweeps without loading tfjs', () => {
  const client = sourceOfExport('./client');
  const run = runFresh(
    'client',
    `
const assert = require('node:assert/strict');
const client = require(${JSON.stringify(client)});
const spec = client.validateSpecInput(
  { task: 'mnist-cnn', epochs: 2, seed: 1, hparams: { filters: 4 },
    checkpoint: { topK: { k: 2, monitor: 'valAccuracy', mode: 'max' } } },
  'no-tfjs',
);
assert.equal(spec.task, 'mnist-cnn');
assert.throws(() => client.validateSpecInput({ task: 'mnist-cnn', epochs: 1, seed: 1, hparams: { filters: 'x' } }, 'w'),
  /invalid hyperparameters for task "mnist-cnn": filters/);
assert.throws(() => client.validateSpecInput({ task: 'synthetic', epochs: 1, seed: 1,
  checkpoint: { topK: { k: 1, monitor: 'valAcc', mode: 'max' } } }, 'w'), /reports no metric "valAcc"/);
assert.throws(() => client.validateSpecInput({ task: 'nope', epochs: 1, seed: 1 }, 'w'),
  /unknown task "nope"; registered tasks: digits-resnet, digits-resnet-stream, mnist-cnn, mnist-cnn-stream, mnist-mlp, mnist-mlp-stream, synthetic, tabular-mlp-stream/);
client.validateSweepInput({ task: 'digits-resnet', seed: 1, epochs: 2, trials: 4,
  space: { learningRate: { kind: 'range', min: 0.001, max: 0.1, log: true } },
  search: { kind: 'random' }, metric: 'valAccuracy', mode: 'max' });
console.log('validated');
`,
  );
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /validated/);
  assert.deepEqual(run.loaded, [], 'tfjs modules loaded by durable-fit/client');
});

test("the CLI's start and sweep commands validate a spec without loading tfjs", () => {
  const cli = (file: string) => JSON.stringify(path.join(root, 'src/cli', file));
  const run = runFresh(
    'cli',
    `
require(${cli('sweep-command.ts')});
require(${cli('fork-command.ts')});
const { startCommand } = require(${cli('start-command.ts')});
// A valid task and hparams, a monitor the task does not report: refused (exit 2) after the
// descriptor lookup and the hparams check, before any connection.
void startCommand().parseAsync(
  ['--task', 'mnist-mlp', '--epochs', '1', '--seed', '1', '--hparam', 'hidden=16', '--top-k', '1:valAcc:max'],
  { from: 'user' },
);
`,
  );
  assert.equal(run.status, 2, `exit ${run.status}: ${run.stderr}`);
  assert.match(
    run.stderr,
    /task "mnist-mlp" reports no metric "valAcc"; its metrics are loss, valLoss, valAccuracy/,
  );
  assert.deepEqual(run.loaded, [], 'tfjs modules loaded by the CLI commands');
});
