/** Pid files that let `stack down` stop exactly what `stack up` started, and nothing else. */
import fs from 'node:fs';
import path from 'node:path';
import { createPrivateDir } from './private-dir';

export interface PidRecord {
  pid: number;
  bin: string;
  args: string[];
  startedAt: string;
}

export function readPidFile(file: string): PidRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export function writePidFile(file: string, record: PidRecord): void {
  createPrivateDir(path.dirname(file));
  fs.writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

export function removePidFile(file: string): void {
  fs.rmSync(file, { force: true });
}

/** True when the recorded process is alive *and* is still the binary we started (pids get reused). */
export function isOurProcess(record: PidRecord): boolean {
  try {
    process.kill(record.pid, 0);
  } catch {
    return false;
  }
  try {
    const cmdline = fs.readFileSync(`/proc/${record.pid}/cmdline`, 'utf8').split('\0');
    return cmdline[0] === record.bin;
  } catch {
    return true; // no /proc (macOS): trust the signal check
  }
}

/** SIGTERM the process group, wait, then SIGKILL. Resolves when the process is gone. */
export async function stopProcess(pid: number, graceMs = 10_000): Promise<void> {
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        /* already gone */
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  signal('SIGKILL');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

/** True while the process exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // A zombie still answers kill(0); treat it as gone.
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}
