/**
 * Pins: a run that resumes or forks from another run's checkpoint depends on it, but the other run's
 * retention only knows its own record. So the dependent run leaves a small marker in the source
 * run's folder, `<sourceRun>/pins/<dependentRun>.json`, naming the checkpoint, and retention keeps
 * every checkpoint a pin names. Pins are never removed automatically: delete the marker (or the
 * whole folder) once the dependent run no longer needs its source.
 *
 * A run that continues another run's folder (`runName` = that folder, `resumeFrom` one of its
 * checkpoints) *holds* it: one pin, `pins/held-by-<run>.json`, names every checkpoint already there
 * and the uploads then in flight. Those are the earlier run's objects: the continuing run's retention
 * keeps them and its clean-ups do not abort those uploads; it owns only what it writes itself.
 */
import { CKPT_EXTENSION, formatCheckpointUrl, parseCheckpointKey, parseCheckpointUrl } from './keys';
import type { RunFolder } from './run-folder';

const PINS_FOLDER = 'pins';

export interface Pin {
  /** The pinned checkpoint, `s3://bucket/<sourceRun>/epoch=…-step=….ckpt`. */
  ckpt: string;
  /** A hold: every checkpoint in the folder when another run took it over (`ckpt` is one of them). */
  ckpts?: string[];
  /** A hold: journal keys of the uploads in flight then (never aborted by the holder). */
  uploads?: string[];
  /** The run folder that depends on it. */
  pinnedBy: string;
  pinnedAt: string;
}

/**
 * Pins `ckptUrl` for `dependentRun` when it lives in another run's folder of this bucket;
 * returns the pin's URL, or undefined when there is nothing to pin (same run, other bucket).
 */
export async function pinCheckpoint(
  runs: RunFolder,
  ckptUrl: string,
  dependentRun: string,
  now: Date = new Date(),
): Promise<string | undefined> {
  const { bucket, key } = parseCheckpointUrl(ckptUrl);
  const source = parseCheckpointKey(key)?.runName;
  if (bucket !== runs.bucket || !source || source === dependentRun) return undefined;
  const pin: Pin = { ckpt: ckptUrl, pinnedBy: dependentRun, pinnedAt: now.toISOString() };
  return runs.putRunJson(source, `${PINS_FOLDER}/${dependentRun}.json`, pin);
}

/**
 * Holds the folder `runName` for `holder` (a run continuing it): pins every checkpoint among `keys`
 * (the folder's objects, `listFolderKeys`) and records its uploads in flight. Returns the pin's URL.
 */
export async function holdFolder(
  runs: RunFolder,
  runName: string,
  holder: string,
  keys: readonly string[],
  now: Date = new Date(),
): Promise<string> {
  const ckpts = keys
    .filter((k) => k.endsWith(CKPT_EXTENSION))
    .map((k) => formatCheckpointUrl(runs.bucket, k));
  const uploads = keys.filter((k) => /(^|\/)\.uploads\/[^/]+\.json$/.test(k));
  const pin: Pin = { ckpt: ckpts[0] ?? '', ckpts, uploads, pinnedBy: holder, pinnedAt: now.toISOString() };
  return runs.putRunJson(runName, `${PINS_FOLDER}/held-by-${holder}.json`, pin);
}

/** The checkpoint URLs other runs have pinned (or held) in `runName`'s folder. */
export async function pinnedCheckpoints(runs: RunFolder, runName: string): Promise<string[]> {
  const pins = await runs.listRunJson(runName, PINS_FOLDER);
  const urls = pins.flatMap((p) => (isPin(p) ? [p.ckpt, ...(p.ckpts ?? [])] : []));
  return [...new Set(urls.filter(Boolean))];
}

function isPin(value: unknown): value is Pin {
  return typeof value === 'object' && value !== null && typeof (value as Pin).ckpt === 'string';
}
