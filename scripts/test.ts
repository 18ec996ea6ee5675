/**
 * `npm test`: starts an isolated Temporal dev server and MinIO once (free ports, temporary folders),
 * hands their addresses to every test file, runs node's test runner over the tiers, and always tears
 * the servers down — on success, failure, or Ctrl-C.
 *
 *   npm test                          all tiers (unit, workflow, integration, security, fault, e2e, cluster), slow tests included
 *   npm test -- --tier unit           one tier (repeatable)
 *   npm test -- --no-slow             leave out files named *.slow.test.ts
 *   npm test -- test/unit/foo.test.ts just these files
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { resolveOptions } from '../src/config/options';
import { ensureNativeForTests } from './test-native';
import { ensurePrerequisites, thisMachine } from './test-prerequisites';
import { STACK_ENV } from '../test/helpers/stack-env';
import { startTestStack } from '../test/helpers/start-test-stack';
import type { RunningTestStack } from '../test/helpers/start-test-stack';

// `workflow`: the real workflow against stub activities on its own dev server (no shared stack).
// `cluster`: the production topology (`stack up --topology cluster`), one per file (no shared stack).
const TIERS = ['unit', 'workflow', 'integration', 'security', 'fault', 'e2e', 'cluster'];
const NO_SERVER_TIERS = ['unit', 'workflow', 'cluster'].map((tier) => path.join('test', tier));

function findTests(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return findTests(full);
      return entry.name.endsWith('.test.ts') ? [full] : [];
    })
    .sort();
}

function selectFiles(): string[] {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { tier: { type: 'string', multiple: true }, 'no-slow': { type: 'boolean' } },
  });
  const tiers = values.tier ?? TIERS;
  const unknown = tiers.filter((t) => !TIERS.includes(t));
  if (unknown.length) throw new Error(`unknown tier ${unknown.join(', ')}; tiers are ${TIERS.join(', ')}`);
  let files = positionals.length ? positionals : tiers.flatMap((tier) => findTests(path.join('test', tier)));
  if (values['no-slow']) files = files.filter((f) => !f.endsWith('.slow.test.ts'));
  return files;
}

async function main(): Promise<number> {
  const files = selectFiles();
  if (files.length === 0) throw new Error('no test files selected');
  // Before any server or test starts: a missing browser must not be a failed assertion at the end.
  const unmet = ensurePrerequisites(files, thisMachine) ?? (await ensureNativeForTests(files));
  if (unmet) {
    console.error(unmet);
    return 2;
  }
  const needsServers = files.some((f) => !NO_SERVER_TIERS.some((dir) => f.startsWith(dir)));
  let running: RunningTestStack | undefined;
  const cleanup = async () => {
    const r = running;
    running = undefined;
    await r?.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => void cleanup().finally(() => process.exit(130)));
  }
  try {
    const env: NodeJS.ProcessEnv = { ...process.env };
    if (needsServers) {
      const started = Date.now();
      running = await startTestStack(resolveOptions(process.env).toolsDir);
      console.error(
        `test stack up in ${Date.now() - started} ms: Temporal ${running.stack.temporalAddress}, ` +
          `UI ${running.stack.uiUrl}, MinIO ${running.stack.s3.endpoint} (logs in ${running.dir})`,
      );
      env[STACK_ENV] = JSON.stringify(running.stack);
    }
    return await runNodeTests(files, env);
  } finally {
    await cleanup();
  }
}

function runNodeTests(files: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const args = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files];
  const child = spawn(process.execPath, args, { stdio: 'inherit', env });
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`npm test: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
