/** Runs the real `durable-fit` CLI (bin/durable-fit.cjs) as a child process against the test stack. */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { testEnv } from '../helpers/training';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `durable-fit <args>` with the test stack's environment and the given task queue. */
export function cli(args: string[], taskQueue: string): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['bin/durable-fit.cjs', ...args],
      { env: { ...testEnv(), DFIT_TASK_QUEUE: taskQueue }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** `cli` that must succeed; returns stdout parsed as JSON. */
export async function cliJson<T>(args: string[], taskQueue: string): Promise<T> {
  const r = await cli(args, taskQueue);
  if (r.code !== 0) throw new Error(`durable-fit ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** A long-running CLI command (e.g. `watch`): its output so far and its exit. */
export function spawnCli(
  args: string[],
  taskQueue: string,
): { child: ChildProcess; done: Promise<CliResult> } {
  const child = spawn(process.execPath, ['bin/durable-fit.cjs', ...args], {
    env: { ...testEnv(), DFIT_TASK_QUEUE: taskQueue },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliResult>((resolve) =>
    child.once('exit', (code) => resolve({ code: code ?? 1, stdout, stderr })),
  );
  return { child, done };
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
