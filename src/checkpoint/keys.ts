/**
 * Checkpoint key layout, Lightning-style and never reused:
 * `<runName>/epoch=EEEE-step=SSSSSSS.ckpt` (zero-padded to 4 and 7 digits, wider when needed),
 * addressed as `s3://<bucket>/<key>`. When that key already holds an object that is not this
 * checkpoint (corrupt, or other state), the save goes to the next free version,
 * `…-step=SSSSSSS-v1.ckpt`, `-v2`, … as Lightning does for a clashing filename.
 */
import { MAX_RUN_NAME, runNameProblem } from '../run-name';
import { InvalidCheckpointUrlError, InvalidRunNameError, NotACkptError } from './errors';

/** The run name rules live below both the spec and this layout (src/run-name.ts). */
export { runNameProblem } from '../run-name';

export const CKPT_EXTENSION = '.ckpt';
const KEY_PATTERN = /^([^/]+)\/epoch=(\d{4,})-step=(\d{7,})(?:-v([1-9]\d*))?\.ckpt$/;
/** A file name in our layout, in whatever folder: `epoch=EEEE-step=SSSSSSS[-vN].ckpt`. */
const NAME_PATTERN = /(?:^|\/)epoch=(\d{4,})-step=(\d{7,})(?:-v[1-9]\d*)?\.ckpt$/;
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

export interface CheckpointKeyParts {
  runName: string;
  epoch: number;
  step: number;
  /** 1, 2, … for a versioned key (`-v1`); absent for the plain key. */
  version?: number;
}

export interface CheckpointLocation {
  bucket: string;
  key: string;
}

export function isValidRunName(runName: string): boolean {
  return runNameProblem(runName) === undefined;
}

/** Throws `InvalidRunNameError` unless the run name can be a key segment. */
export function assertRunName(runName: string): void {
  const problem = runNameProblem(runName);
  if (problem) throw new InvalidRunNameError(runName, problem);
}

/** `<runName>/epoch=EEEE-step=SSSSSSS.ckpt`, or `…-vN.ckpt` for a version N ≥ 1. */
export function formatCheckpointKey(runName: string, epoch: number, step: number, version = 0): string {
  assertRunName(runName);
  return `${runName}/${checkpointFileName(epoch, step, version)}`;
}

/** The file name of a checkpoint key: `epoch=EEEE-step=SSSSSSS.ckpt`, or `…-vN.ckpt` for N ≥ 1. */
export function checkpointFileName(epoch: number, step: number, version = 0): string {
  for (const [label, n] of [
    ['epoch', epoch],
    ['step', step],
    ['version', version],
  ] as const) {
    if (!Number.isSafeInteger(n) || n < 0)
      throw new RangeError(`checkpoint ${label} ${n} is not an integer ≥ 0`);
  }
  const suffix = version > 0 ? `-v${version}` : '';
  return `epoch=${String(epoch).padStart(4, '0')}-step=${String(step).padStart(7, '0')}${suffix}${CKPT_EXTENSION}`;
}

/** The parts of a key in our layout, or undefined for any other key. */
export function parseCheckpointKey(key: string): CheckpointKeyParts | undefined {
  const match = KEY_PATTERN.exec(key);
  if (!match) return undefined;
  const [, runName = '', epoch = '', step = '', version] = match;
  if (!isValidRunName(runName)) return undefined;
  const parts = { runName, epoch: Number(epoch), step: Number(step) };
  return version === undefined ? parts : { ...parts, version: Number(version) };
}

/**
 * The cursor a key's file name claims, `epoch=EEEE-step=SSSSSSS` in our zero-padded layout, in any
 * folder (a checkpoint copied elsewhere keeps its name); undefined for any other name (a global of a
 * data-parallel run, `model.ckpt`, …), which claims nothing.
 */
export function cursorOfKey(key: string): { epoch: number; step: number } | undefined {
  const match = NAME_PATTERN.exec(key);
  if (!match) return undefined;
  return { epoch: Number(match[1]), step: Number(match[2]) };
}

/**
 * The run folder of a run started without `runName`: the workflow id (made key-safe) plus the last
 * 8 characters of its `firstExecutionRunId`, e.g. `nightly-567890ab`. Unique per workflow *run*, so
 * reusing a workflow id (a nightly job, a Schedule) starts a fresh folder, and stable across
 * continue-as-new (which changes the run id, not the first one). Without a run id: the workflow id.
 */
export function defaultRunName(workflowId: string, firstExecutionRunId?: string): string {
  // The *last* 8: Temporal's run ids are UUIDv7, whose first characters are a timestamp.
  const suffix = firstExecutionRunId ? `-${firstExecutionRunId.replace(/[^A-Za-z0-9]/g, '').slice(-8)}` : '';
  let safe = workflowId.replace(/[^A-Za-z0-9._-]/g, '-').replace(/\.{2,}/g, '-');
  if (!/^[A-Za-z0-9]/.test(safe)) safe = `run-${safe}`;
  return safe.slice(0, MAX_RUN_NAME - suffix.length) + suffix;
}

/** The key prefix under which a run's checkpoints live. */
export function runPrefix(runName: string): string {
  assertRunName(runName);
  return `${runName}/`;
}

/** `s3://bucket/key` → { bucket, key }; throws `InvalidCheckpointUrlError`. */
export function parseCheckpointUrl(url: string): CheckpointLocation {
  const match = /^s3:\/\/([^/]*)(?:\/(.*))?$/.exec(url);
  if (!match) throw new InvalidCheckpointUrlError(url, 'it does not start with s3://');
  const [, bucket = '', key = ''] = match;
  if (!BUCKET_PATTERN.test(bucket))
    throw new InvalidCheckpointUrlError(url, `"${bucket}" is not a bucket name`);
  if (key.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new InvalidCheckpointUrlError(url, 'the key contains "." or ".." segments');
  }
  return { bucket, key };
}

/** { bucket, key } → `s3://bucket/key` */
export function formatCheckpointUrl(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

/** Orders checkpoints by (epoch, step, version), oldest first. */
export function compareCheckpointParts(a: CheckpointKeyParts, b: CheckpointKeyParts): number {
  return a.epoch - b.epoch || a.step - b.step || (a.version ?? 0) - (b.version ?? 0);
}

/**
 * Throws `NotACkptError` unless `url` is an `s3://` URL whose key names a `.ckpt` file (Lightning's
 * first pitfall: `ckpt_path` names a file, not a folder). Pure: the client refuses a folder URL
 * before any workflow starts, with the message the server would give.
 */
export function assertCkptUrl(url: string): string {
  const { key } = parseCheckpointUrl(url);
  if (!key.endsWith(CKPT_EXTENSION) || key.endsWith(`/${CKPT_EXTENSION}`))
    throw new NotACkptError(url, 'the key does not name a .ckpt file');
  return key;
}
