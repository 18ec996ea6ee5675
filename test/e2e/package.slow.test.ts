// durable-fit as a user installs it: `npm pack` the package, install the tarball into a throwaway
// project outside the repo with a workflow, an activity and a task of its own, then run that
// project's own worker (plain `Worker.create` with its own workflowsPath and the plugin) and its
// own client (`durable-fit/client`): a run trains through it, and the project's workflow runs on
// the same worker. Nothing here imports the repo's source: only the installed, compiled package.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { testEnv } from '../helpers/training';
import { HOST_CLIENT, HOST_TASKS, HOST_WORKER, HOST_WORKFLOWS } from './package-host';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '..', '..');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'durable-fit-package-'));
const project = path.join(dir, 'host-app');
let worker: ChildProcess | undefined;

/** The versions this checkout runs, so the host project shares one copy of each with durable-fit. */
function installedVersion(pkg: string): string {
  const json = JSON.parse(fs.readFileSync(path.join(repo, 'node_modules', pkg, 'package.json'), 'utf8'));
  return `${pkg}@${(json as { version: string }).version}`;
}

async function npm(args: string[], cwd: string): Promise<string> {
  const { stdout } = await run('npm', args, { cwd, maxBuffer: 64 * 1024 * 1024, timeout: 150_000 });
  return stdout;
}

before(async () => {
  await npm(['pack', '--pack-destination', dir, '--silent'], repo); // prepack builds dist/
  const tarball = fs.readdirSync(dir).find((f) => f.endsWith('.tgz'));
  assert.ok(tarball, `npm pack left no tarball in ${dir}`);
  fs.mkdirSync(project);
  fs.writeFileSync(
    path.join(project, 'package.json'),
    JSON.stringify({ name: 'host-app', version: '1.0.0', private: true }),
  );
  for (const [name, text] of Object.entries({
    'tasks.js': HOST_TASKS,
    'workflows.js': HOST_WORKFLOWS,
    'worker.js': HOST_WORKER,
    'client.js': HOST_CLIENT,
  })) {
    fs.writeFileSync(path.join(project, name), text);
  }
  const peers = ['@temporalio/client', '@temporalio/worker', '@temporalio/workflow']
    .concat(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', 'zod'])
    .map(installedVersion);
  // From the cache `npm ci` filled; optional native TensorFlow would download, so it is left out.
  const flags = ['--prefer-offline', '--no-audit', '--no-fund', '--omit=optional', '--ignore-scripts'];
  await npm(['install', path.join(dir, tarball), ...peers, ...flags], project);
});

after(async () => {
  if (worker && worker.exitCode === null) {
    const exited = new Promise((resolve) => worker?.once('exit', resolve));
    worker.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the tarball holds compiled JavaScript, types and the bin, and no tests, fixtures or sources', () => {
  const installed = path.join(project, 'node_modules', 'durable-fit');
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
  assert.ok(!fs.existsSync(path.join(project, 'node_modules', 'tsx')), 'tsx is not installed with it');
});

test('the installed bin runs the compiled CLI', async () => {
  const { stdout } = await run(path.join(project, 'node_modules', '.bin', 'durable-fit'), ['--version'], {
    cwd: project,
  });
  const pkg = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
  assert.equal(stdout.trim(), pkg.version);
});

test("the host's own worker trains a run through the plugin and still runs the host's workflow", async () => {
  const taskQueue = `host-app-${Date.now()}`;
  const env = { ...testEnv(), HOST_TASK_QUEUE: taskQueue };
  worker = spawn(process.execPath, ['worker.js'], {
    cwd: project,
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await waitForLine(worker, 'host worker ready', 120_000);

  const { stdout } = await run(process.execPath, ['client.js'], { cwd: project, env, timeout: 150_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as {
    status: string;
    epochs: number;
    finalCheckpoint: string;
    queriedEpochs: number;
    greeting: string;
  };
  assert.equal(out.status, 'completed');
  assert.equal(out.epochs, 2);
  assert.match(out.finalCheckpoint, /^s3:\/\/.+\.ckpt$/);
  assert.equal(out.queriedEpochs, 2); // the typed progress query answered
  assert.equal(out.greeting, 'hello from the host, durable-fit'); // the host's workflow and activity
});

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
