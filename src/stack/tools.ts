/** Builds the pinned server binaries with `go install` into a per-user cache keyed by version. */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { GoMissingError, ToolBuildError } from './errors';
import { createPrivateDir } from './private-dir';
import type { ToolSpec } from './versions';

export interface EnsureToolOptions {
  /** Cache root, e.g. `~/.cache/durable-fit/bin`. */
  toolsDir: string;
  /** Progress lines (building takes minutes on 2 cores). @default writes to stderr */
  progress?: (line: string) => void;
}

/** Where a tool's binary lives in the cache: `<toolsDir>/<name>/<version>/<name>`. */
export function toolPath(tool: ToolSpec, toolsDir: string): string {
  return path.join(toolsDir, tool.name, tool.version, tool.name);
}

/** Returns the cached binary, building it first when it is absent. */
export async function ensureTool(tool: ToolSpec, options: EnsureToolOptions): Promise<string> {
  const target = toolPath(tool, options.toolsDir);
  if (isExecutable(target)) return target;
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (!hasGo()) throw new GoMissingError(tool.name);

  const dir = createPrivateDir(path.dirname(target)); // 0700: nobody else may swap the binary
  const staging = fs.mkdtempSync(path.join(dir, '.build-'));
  const logFile = path.join(dir, 'build.log');
  progress(
    `building ${tool.name} ${tool.version} with go install (a few minutes the first time; log: ${logFile})`,
  );
  const started = Date.now();
  try {
    const code = await runGoInstall(tool, staging, logFile, (last) =>
      progress(`  … ${tool.name}: ${Math.round((Date.now() - started) / 1000)}s ${last}`),
    );
    const built = path.join(staging, tool.installs ?? tool.name);
    if (code !== 0 || !isExecutable(built)) throw new ToolBuildError(tool.name, logFile, code);
    fs.renameSync(built, target);
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
  progress(`built ${tool.name} in ${Math.round((Date.now() - started) / 1000)}s → ${target}`);
  return target;
}

function runGoInstall(
  tool: ToolSpec,
  gobin: string,
  logFile: string,
  tick: (lastLine: string) => void,
): Promise<number | null> {
  const log = fs.openSync(logFile, 'w');
  let lastLine = '';
  const child = spawn('go', ['install', `${tool.module}@${tool.version}`], {
    env: { ...process.env, GOBIN: gobin, CGO_ENABLED: process.env.CGO_ENABLED ?? '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const onData = (chunk: Buffer) => {
    fs.writeSync(log, chunk);
    const lines = chunk.toString().trim().split('\n');
    lastLine = (lines[lines.length - 1] ?? '').slice(0, 100);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const timer = setInterval(() => tick(lastLine || 'compiling'), 15_000);
  return new Promise((resolve) => {
    child.on('error', () => resolve(null));
    child.on('close', (code) => {
      clearInterval(timer);
      fs.closeSync(log);
      resolve(code);
    });
  });
}

function hasGo(): boolean {
  return spawnSync('go', ['version'], { stdio: 'ignore' }).status === 0;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
