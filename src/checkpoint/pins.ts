/**
 * Pins: a run that resumes or forks from another run's checkpoint depends on it, but the other run's
 * retention only knows its own record. So the dependent run leaves a small marker in the source
 * run's folder, `<sourceRun>/pins/<dependentRun>.json`, naming the checkpoint, and retention keeps
 * every checkpoint a pin names. Pins are never removed automatically: delete the marker (or the
 * whole folder) once the dependent run no longer needs its source.
 */
import { parseCheckpointKey, parseCheckpointUrl } from './keys';
import type { CheckpointStore } from './store';

const PINS_FOLDER = 'pins';

export interface Pin {
  /** The pinned checkpoint, `s3://bucket/<sourceRun>/epoch=…-step=….ckpt`. */
  ckpt: string;
  /** The run folder that depends on it. */
  pinnedBy: string;
  pinnedAt: string;
}

/**
 * Pins `ckptUrl` for `dependentRun` when it lives in another run's folder of this store's bucket;
 * returns the pin's URL, or undefined when there is nothing to pin (same run, other bucket).
 */
export async function pinCheckpoint(
  store: CheckpointStore,
  ckptUrl: string,
  dependentRun: string,
  now: Date = new Date(),
): Promise<string | undefined> {
  const { bucket, key } = parseCheckpointUrl(ckptUrl);
  const source = parseCheckpointKey(key)?.runName;
  if (bucket !== store.bucket || !source || source === dependentRun) return undefined;
  const pin: Pin = { ckpt: ckptUrl, pinnedBy: dependentRun, pinnedAt: now.toISOString() };
  return store.putRunJson(source, `${PINS_FOLDER}/${dependentRun}.json`, pin);
}

/** The checkpoint URLs other runs have pinned in `runName`'s folder. */
export async function pinnedCheckpoints(store: CheckpointStore, runName: string): Promise<string[]> {
  const pins = await store.listRunJson(runName, PINS_FOLDER);
  return pins.flatMap((p) => (isPin(p) ? [p.ckpt] : []));
}

function isPin(value: unknown): value is Pin {
  return typeof value === 'object' && value !== null && typeof (value as Pin).ckpt === 'string';
}
