/**
 * The largest checkpoint a store will download. A `resumeFrom` (or fork source) is untrusted input:
 * without a ceiling, anyone who can start a workflow and write to the bucket could make a worker
 * allocate a buffer of any size. The size comes from a `stat` (or the workflow's record), so an
 * object over the limit is refused before a byte of it is read.
 */
import type { FailureKind } from '../failure-kind';
import { CheckpointError } from './errors';

/** 2 GiB: four times a 500 MB checkpoint (`mnist-mlp` with `hidden: 32768` and Adam is ~300 MB). */
export const DEFAULT_MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3;

/** Environment variable that raises (or lowers) the limit on workers and the CLI. */
export const MAX_CHECKPOINT_BYTES_ENV = 'DFIT_MAX_CHECKPOINT_BYTES';

/**
 * The checkpoint is larger than this process may load. Permanent, not a reason to fall back to an
 * older checkpoint: the fix is the worker's setting, and a run must not silently lose progress.
 */
export class CheckpointTooLargeError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly url: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `checkpoint ${url} has ${formatBytes(bytes)}${bytes >= 1024 ? ` (${bytes} bytes)` : ''}, ` +
        `more than the ${formatBytes(limit)} ` +
        `this worker loads; it was not downloaded. If you trust it, raise the limit on the workers (and ` +
        `the CLI) with ${MAX_CHECKPOINT_BYTES_ENV}=${bytes} (bytes, or e.g. 4GiB)`,
    );
  }
}

/** Throws `CheckpointTooLargeError` when `bytes` exceeds `limit`. */
export function assertCheckpointSize(url: string, bytes: number, limit = DEFAULT_MAX_CHECKPOINT_BYTES): void {
  if (bytes > limit) throw new CheckpointTooLargeError(url, bytes, limit);
}

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** `2147483648`, `500MB`, `2GiB`, `1.5 GB` → bytes; undefined when it is not a positive size. */
export function parseByteSize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[match?.[2]?.toLowerCase() ?? 'x'];
  if (!match || unit === undefined) return undefined;
  const bytes = Math.floor(Number(match[1]) * unit);
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

/** 2147483648 → `2 GiB`; sizes below 1 KiB in bytes. */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${Number(value.toFixed(1))} ${units[unit]}`;
}
