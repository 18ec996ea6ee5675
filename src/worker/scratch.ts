/**
 * A worker's scratch folder: its trainers hand large states over through files in it
 * (src/training/state-transfer.ts). A worker that is SIGKILLed (or OOM-killed) never removes it, so
 * the folder names its process, `<tmp>/dfit-worker-<pid>-<process start, ms>-<n>`, and every worker
 * removes, when it starts, the folders of processes that are gone. The start time tells this
 * process's own folders (kept: several workers may run in one process) from those of an earlier
 * process that had the same pid (pid 1 in a restarted container).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const PREFIX = 'dfit-worker-';
const NAME = /^dfit-worker-(\d+)-(\d+)-\d+$/;
/** This process's start, to the second (uptime and the clock may disagree by a few milliseconds). */
const STARTED = Math.round((Date.now() - process.uptime() * 1000) / 1000) * 1000;
let sequence = 0;

/**
 * Removes the scratch folders under `base` of worker processes that are gone, then makes a new one
 * for this worker. Returns it and the folders removed.
 */
export function prepareScratch(base: string = os.tmpdir()): { dir: string; removed: string[] } {
  const removed: string[] = [];
  for (const name of listNames(base)) {
    if (!isLeftover(name)) continue;
    fs.rmSync(path.join(base, name), { recursive: true, force: true });
    removed.push(path.join(base, name));
  }
  const dir = path.join(base, `${PREFIX}${process.pid}-${STARTED}-${++sequence}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, removed };
}

function isLeftover(name: string): boolean {
  const match = NAME.exec(name);
  if (!match) return false;
  const [pid, started] = [Number(match[1]), Number(match[2])];
  if (pid === process.pid) return Math.abs(started - STARTED) > 2000;
  return !isAlive(pid);
}

/** Removes this worker's scratch folder (at shutdown). */
export function removeScratch(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

function listNames(base: string): string[] {
  try {
    return fs.readdirSync(base).filter((name) => name.startsWith(PREFIX));
  } catch {
    return []; // no tmp folder yet: nothing to clean
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // alive, another user's
  }
}
