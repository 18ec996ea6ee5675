/**
 * The run folder, as `prepareRun` sets it up: refuse a folder that holds another run's objects
 * unless this run continues it (then hold them), and pin the checkpoint this run starts from in its
 * source run's folder so that run's retention keeps it.
 */
import { RunFolderTakenError } from '../src/checkpoint/errors';
import { parseCheckpointUrl, runPrefix } from '../src/checkpoint/keys';
import { holdFolder, pinCheckpoint } from '../src/checkpoint/pins';
import type { RunFolder } from '../src/checkpoint/run-folder';
import type { TrainingSpec } from '../src/spec';
import type { PreparedRun } from '../src/contract';

type Log = (message: string, meta?: Record<string, unknown>) => void;

/** How a run takes over a folder that holds objects. */
export interface TakeOverOptions {
  /** This run, as a hold names it (`<workflowId>-<runIdTail>`). */
  holder: string;
  /** Throws when a running workflow still writes the folder. @default no check */
  assertNoOtherWriter?: () => Promise<void>;
  log?: Log;
}

/**
 * A run writes only into an empty folder (nothing in it, subfolders included), or into the folder
 * of the checkpoint it explicitly resumes from. That folder's objects are another run's (or an
 * earlier run of the same name): the run holds them (pins.ts: its retention keeps them, its
 * clean-ups leave their uploads alone) and owns only what it writes. Nothing is aborted here: an
 * empty folder has no uploads, and a taken-over folder's uploads are not this run's.
 */
export async function prepareRunFolder(
  runs: RunFolder,
  spec: TrainingSpec,
  take: TakeOverOptions,
): Promise<void> {
  const runName = spec.runName as string;
  const keys = await runs.listFolderKeys(runName);
  if (keys.length === 0) return;
  const resumesHere = spec.resumeFrom !== undefined && isInFolder(spec.resumeFrom, runName);
  if (!resumesHere) {
    const checkpoints = await runs.list(runName);
    const newest = checkpoints.at(-1)?.url ?? `s3://${runs.bucket}/${keys.at(-1) ?? runName}`;
    throw new RunFolderTakenError(runName, Math.max(checkpoints.length, 1), newest);
  }
  await take.assertNoOtherWriter?.(); // folder-writers.ts
  const pin = await holdFolder(runs, runName, take.holder, keys);
  take.log?.("holding the run folder's existing objects: this run's retention keeps them", { runName, pin });
}

/** Pins the checkpoint a resume or fork starts from, when it lives in another run's folder. */
export async function pinStart(runs: RunFolder, prepared: PreparedRun): Promise<PreparedRun> {
  const start = prepared.resumeFrom ?? prepared.initFrom;
  if (start && prepared.spec.runName) await pinCheckpoint(runs, start.url, prepared.spec.runName);
  return prepared;
}

function isInFolder(url: string, runName: string): boolean {
  try {
    return parseCheckpointUrl(url).key.startsWith(runPrefix(runName));
  } catch {
    return false; // a malformed URL is reported by the resumeFrom checks
  }
}
