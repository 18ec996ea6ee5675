/**
 * Resident memory of a trainer child process, read by the worker from `/proc/<pid>/status` (Linux):
 * no message to the child, so a busy or hung trainer is measured too. Elsewhere it is unknown.
 */
import { readFile } from 'node:fs/promises';

/** How often the trainer slots sample their processes' memory. */
export const RSS_SAMPLE_MS = 2000;

/** `VmRSS` of the process in bytes, or undefined when it has exited or the platform has no /proc. */
export async function readRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}
