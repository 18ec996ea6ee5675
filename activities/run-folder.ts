/**
 * The run folder, as `prepareRun` sets it up: refuse a folder that holds another run's checkpoints,
 * abort multipart uploads a killed writer left in it, and pin the checkpoint this run starts from in
 * its source run's folder so that run's retention keeps it.
 */
import { RunFolderTakenError } from '../src/checkpoint/errors';
import { parseCheckpointUrl, runPrefix } from '../src/checkpoint/keys';
import { pinCheckpoint } from '../src/checkpoint/pins';
import type { CheckpointStore } from '../src/checkpoint/store';
import type { TrainingSpec } from '../src/spec';
import type { PreparedRun } from '../src/contract';

type Log = (message: string, meta?: Record<string, unknown>) => void;

/**
 * A run writes only into an empty folder, or into the folder of the checkpoint it explicitly
 * resumes from (the same run continued). Then aborts the folder's incomplete uploads: when a run
 * or a resume starts, no writer of it is alive, so any upload there is a dead writer's leftover.
 */
export async function prepareRunFolder(store: CheckpointStore, spec: TrainingSpec, log?: Log): Promise<void> {
  const runName = spec.runName as string;
  const existing = await store.list(runName);
  const newest = existing.at(-1);
  const resumesHere = spec.resumeFrom !== undefined && isInFolder(spec.resumeFrom, runName);
  if (newest && !resumesHere) throw new RunFolderTakenError(runName, existing.length, newest.url);
  const aborted = await store.abortIncompleteUploads(runName);
  if (aborted > 0) log?.('aborted incomplete uploads a killed writer left', { runName, aborted });
}

/** Pins the checkpoint a resume or fork starts from, when it lives in another run's folder. */
export async function pinStart(store: CheckpointStore, prepared: PreparedRun): Promise<PreparedRun> {
  const start = prepared.resumeFrom ?? prepared.initFrom;
  if (start && prepared.spec.runName) await pinCheckpoint(store, start.url, prepared.spec.runName);
  return prepared;
}

function isInFolder(url: string, runName: string): boolean {
  try {
    return parseCheckpointUrl(url).key.startsWith(runPrefix(runName));
  } catch {
    return false; // a malformed URL is reported by the resumeFrom checks
  }
}
