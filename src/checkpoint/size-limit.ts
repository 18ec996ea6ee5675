/**
 * The largest checkpoint a store will download. A `resumeFrom` (or fork source) is untrusted input:
 * without a ceiling, anyone who can start a workflow and write to the bucket could make a worker
 * allocate a buffer of any size. The size comes from a `stat` (or the workflow's record), so an
 * object over the limit is refused before a byte of it is read.
 */
import { formatBytes } from '../config/byte-size';
import { DEFAULT_MAX_CHECKPOINT_BYTES, MAX_CHECKPOINT_BYTES_ENV } from '../config/options';
import type { FailureKind } from '../failure-kind';
import { CheckpointError } from './errors';

/** The limit is a setting (config/options.ts); the check and its error are the checkpoint's. */
export { DEFAULT_MAX_CHECKPOINT_BYTES, MAX_CHECKPOINT_BYTES_ENV } from '../config/options';

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
