// durable-fit as a user installs it: `npm pack` the package, install the tarball into two throwaway
// projects outside the repo, each with a workflow, an activity and a task of its own, then run
// each project's own worker (plain `Worker.create` with its own workflowsPath and the plugin) and
// its own client (`durable-fit/client`): a run trains through it, and the project's workflow runs
// on the same worker. One project is CommonJS, installed without optional packages; the other is
// an ES module project (`"type": "module"`) installed as README's "Use it in your own worker" says,
// with tfjs-node's install script denied in its own package.json, and builds native TensorFlow
// with the installed bin. Nothing here imports the repo's source: only the installed package.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { skipUnlessNative } from '../helpers/native';
import { testEnv } from '../helpers/training';
import { ESM_IMPORTS, hostFiles } from './package-host';
import type { ModuleKind } from './package-host';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-fit-package-'));
const cjs = path.join(dir, 'host-app');
const esm = path.join(dir, 'host-esm');
const workers: ChildProcess[] = [];
const nativeSkip = skipUnlessNative();

/** The deny entries README's "Use it in your own worker" tells a user to put in package.json. */
const ALLOW_SCRIPTS = { '@tensorflow/tfjs-node': false, '@tensorflow/tfjs-node-gpu': false };

/** The versions this checkout runs, so the host project shares one copy of each with durable-fit. */
function installedVersion(pkg: string): string {
  const json = JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', pkg, 'package.json'), 'utf8'));
  return `${pkg}@${(json as { version: string }).version}`;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 150_000 });
  return stdout;
}

/** `npx durable-fit …` in a project, as a user runs it; resolves to its exit code and output. */
async function npx(cwd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npx', ['durable-fit', ...args], {
      cwd,
      env: testEnv(),
      timeout: 150_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    if (typeof e.code !== 'number') throw err;
    return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

function writeProject(project: string, kind: ModuleKind, extra: Record<string, unknown>): void {
  fs.mkdirSync(project);
  // A CommonJS project sets no "type" (the default), so webpack reads the workflows file's imports.
  const type = kind === 'module' ? { type: kind } : {};
  const pkg = { name: path.basename(project), version: '1.0.0', private: true, ...type, ...extra };
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify(pkg, null, 2));
  for (const [name, text] of Object.entries(hostFiles(kind)))
    fs.writeFileSync(path.join(project, name), text);
}

before(async () => {
  await npm(['pack', '--pack-destination', dir, '--silent'], repo); // prepack builds dist/
  const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack left no tarball in ${dir}`);
  writeProject(cjs, 'commonjs', {});
  writeProject(esm, 'module', { allowScripts: ALLOW_SCRIPTS });
  fs.writeFileSync(path.join(esm, 'imports.js'), ESM_IMPORTS);
  const packages = [path.join(dir, tarball)].concat(
    ['@temporalio/client', '@temporalio/worker', '@temporalio/workflow']
      .concat(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'zod'])
      .map(installedVersion),
  );
  const flags = ['--prefer-offline', '--no-audit', '--no-fund']; // from the cache `npm ci` filled
  await Promise.all([
    // Without optional packages or scripts: tfjs-node stays out, as when its script failed.
    npm(['install', ...packages, ...flags, '--omit=optional', '--ignore-scripts'], cjs),
    // As a user installs it: every script runs but the denied ones (npm ≥ 11.19), tfjs-node's JS is kept.
    npm(['install', ...packages, ...flags], esm),
  ]);
});

after(async () => {
  for (const worker of workers) {
    if (worker.exitCode !== null || worker.signalCode !== null) continue;
    const exited = new Promise((resolve) => worker.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds compiled JavaScript, types and the bin, and no tests, fixtures or sources', () => {
  const installed = path.join(cjs, 'node_modules', 'durable-fit');
  for (const file of [
    'dist/src/index.js',
    'dist/src/index.d.ts',
    'dist/workflows/index.js',
    'bin/durable-fit.cjs',
    // The graph addon's C sources: `durable-fit backend build` compiles them in the user's project.
    'dist/src/native/graph-addon/dfit_graph.c',
    'dist/src/native/graph-addon/binding.gyp',
  ])
    assert.ok(fs.existsSync(path.join(installed, file)), `${file} is in the package`);
  for (const folder of ['src', 'test', 'bench', 'scripts', 'dist/test', 'dist/bench', 'examples'])
    assert.ok(!fs.existsSync(path.join(installed, folder)), `${folder} is not in the package`);
  assert.ok(!fs.existsSync(path.join(cjs, 'node_modules', 'tsx')), 'tsx is not installed with it');
});

test('the installed bin runs the compiled CLI', async () => {
  const { stdout } = await run(path.join(cjs, 'node_modules', '.bin', 'durable-fit'), ['--version'], {
    cwd: cjs,
  });
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  assert.equal(stdout.trim(), pkg.version);
});

test("without tfjs-node, backend build and status tell a user to deny its script in the project's package.json", async () => {
  assert.ok(!fs.existsSync(path.join(cjs, 'node_modules', '@tensorflow', 'tfjs-node')));
  const build = await npx(cjs, ['backend', 'build']);
  assert.equal(build.code, 1, build.stderr);
  const message = build.stderr.replace(/\s+/g, ' ');
  assert.ok(message.includes(`@tensorflow/tfjs-node is not installed in ${cjs}/node_modules.`), message);
  assert.ok(message.includes(`package.json (${cjs}/package.json)`), message);
  const entries = '"allowScripts": { "@tensorflow/tfjs-node": false, "@tensorflow/tfjs-node-gpu": false }';
  assert.ok(message.includes(`add ${entries}`), message);
  assert.match(message, /run `npm install` \(npm 11\.19 or newer\), then `npx durable-fit backend build`/);
  assert.doesNotMatch(message, /npm ci/, "the repository's advice is wrong in a user's project");

  const status = await npx(cjs, ['backend', 'status', '--json']);
  assert.equal(status.code, 0, status.stderr);
  const cpu = (JSON.parse(status.stdout) as { flavor: string; installed: boolean; install?: string }[]).find(
    (s) => s.flavor === 'cpu',
  );
  assert.equal(cpu?.installed, false);
  assert.match(
    cpu?.install ?? '',
    new RegExp(`^deny its install script in ${cjs}/package.json .*then npm install$`),
  );
});

test('an ES module project imports every entry point by name', async () => {
  const { stdout } = await run(process.execPath, ['imports.js'], { cwd: esm });
  const types = JSON.parse(stdout) as Record<string, string>;
  for (const name of ['DurableTrainingPlugin', 'createProcessEngine', 'createStore', 'registerTask'])
    assert.equal(types[name], 'function', name);
  for (const name of ['resolveOptions', 'startTraining', 'trainModel', 'createActivities'])
    assert.equal(types[name], 'function', name);
  assert.equal(types.pauseSignal, 'object');
  assert.equal(types.progressQuery, 'object');
});

test(
  'with the install script denied in its package.json, the ES module project builds native TensorFlow',
  { skip: nativeSkip },
  async () => {
    const pkg = path.join(esm, 'node_modules', '@tensorflow', 'tfjs-node', 'package.json');
    assert.ok(fs.existsSync(pkg), 'npm kept tfjs-node: its denied install script did not run and fail');
    const build = await npx(esm, ['backend', 'build']); // the tools cache has it: a link, and the graph addon
    assert.equal(build.code, 0, build.stderr);
    assert.equal(build.stdout.trim(), path.dirname(pkg));
    const status = await npx(esm, ['backend', 'status', '--json']);
    assert.equal(status.code, 0, status.stderr);
    const cpu = (JSON.parse(status.stdout) as Record<string, unknown>[]).find((s) => s.flavor === 'cpu');
    assert.equal(cpu?.installed, true);
    assert.equal(cpu?.linked, true);
    assert.equal(cpu?.graphAddon, true);
    assert.equal(cpu?.loads, true, String(cpu?.loadError));
    assert.match(String(cpu?.tfVersion), /^\d+\.\d+\.\d+$/);
  },
);

for (const [kind, project] of [
  ['CommonJS', cjs],
  ['ES module', esm],
] as const) {
  // The ES module project trains on native TensorFlow in graph mode where it is built (CI builds it).
  const backend = kind === 'ES module' && !nativeSkip ? 'tensorflow-graph' : 'cpu';
  test(`the ${kind} host's own worker trains a run on ${backend} and still runs the host's workflow`, async () => {
    const taskQueue = `host-${kind === 'CommonJS' ? 'cjs' : 'esm'}-${Date.now()}`;
    const env = { ...testEnv(), HOST_TASK_QUEUE: taskQueue, HOST_BACKEND: backend };
    const worker = spawn(process.execPath, ['worker.js'], {
      cwd: project,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    workers.push(worker);
    await waitForLine(worker, 'host worker ready', 120_000);

    const { stdout } = await run(process.execPath, ['client.js'], { cwd: project, env, timeout: 150_000 });
    const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
      status: string;
      epochs: number;
      finalCheckpoint: string;
      backend: string;
      queriedEpochs: number;
      greeting: string;
    };
    assert.equal(out.status, 'completed');
    assert.equal(out.epochs, 2);
    assert.match(out.finalCheckpoint, /^s3:\/\/.+\.ckpt$/);
    assert.equal(out.backend, backend);
    assert.equal(out.queriedEpochs, 2); // the typed progress query answered
    assert.equal(out.greeting, 'hello from the host, durable-fit'); // the host's workflow and activity
  });
}

function waitForLine(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`no "${text}" within ${timeoutMs} ms:\n${seen}`)),
      timeoutMs,
    );
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`host worker exited (${code}) before "${text}":\n${seen}`));
    });
  });
}
