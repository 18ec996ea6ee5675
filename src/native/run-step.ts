/** Runs one build step as a child process: output to the build log, a progress line every 10 s. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { NativeBuildError, NativeToolMissingError } from './errors';

/** Runs `command args` for step `label`; resolves with its stdout, throws `NativeBuildError`. */
export type StepRunner = (
  label: string,
  command: string,
  args: readonly string[],
  options?: { cwd?: string; env?: NodeJS.ProcessEnv },
) => Promise<string>;

/** What to tell a user who lacks a tool, by command name. */
const INSTALL_HINTS: Record<string, string> = {
  python3: 'Install Python 3 with pip (Debian/Ubuntu: `apt-get install python3-pip`), or set DFIT_PYTHON.',
  node: 'Node.js runs this command, so this is unexpected: check PATH.',
};

export function createStepRunner(logFile: string, progress: (line: string) => void): StepRunner {
  return (label, command, args, options = {}) =>
    new Promise((resolve, reject) => {
      const log = fs.openSync(logFile, 'a');
      fs.writeSync(log, `\n$ ${command} ${args.map((a) => (a.length > 200 ? '<script>' : a)).join(' ')}\n`);
      const started = Date.now();
      let stdout = '';
      let last = '';
      const child = spawn(command, args, {
        cwd: options.cwd,
        env: options.env ?? process.env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const onData = (chunk: Buffer, keep: boolean) => {
        fs.writeSync(log, chunk);
        if (keep) stdout += chunk.toString();
        const lines = chunk.toString().trim().split('\n');
        last = (lines[lines.length - 1] ?? '').replace(/\s+/g, ' ').slice(0, 100);
      };
      child.stdout.on('data', (c: Buffer) => onData(c, true));
      child.stderr.on('data', (c: Buffer) => onData(c, false));
      const timer = setInterval(
        () => progress(`  … ${label}: ${Math.round((Date.now() - started) / 1000)}s ${last}`),
        10_000,
      );
      let finished = false;
      const finish = (error?: Error) => {
        // A command that cannot start emits both 'error' and 'close'.
        if (finished) return;
        finished = true;
        clearInterval(timer);
        fs.closeSync(log);
        if (error) reject(error);
        else resolve(stdout);
      };
      child.on('error', (err: NodeJS.ErrnoException) =>
        finish(
          err.code === 'ENOENT'
            ? new NativeToolMissingError(command, INSTALL_HINTS[command] ?? `Install \`${command}\`.`)
            : new NativeBuildError(label, logFile, err.message),
        ),
      );
      child.on('close', (code) =>
        finish(code === 0 ? undefined : new NativeBuildError(label, logFile, `exit code ${code}: ${last}`)),
      );
    });
}
