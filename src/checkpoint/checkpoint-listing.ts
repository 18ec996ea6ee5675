/** Checkpoints found by listing object keys: what both the run folder and the I/O port's errors need. */
import type { ObjectClient } from '../storage/object-client';
import type { CheckpointKeyParts } from './keys';
import { compareCheckpointParts, formatCheckpointUrl, parseCheckpointKey } from './keys';

/** One checkpoint of a run, from a listing. */
export interface CheckpointRecord extends CheckpointKeyParts {
  url: string;
  key: string;
  bytes: number;
  lastModified: Date;
}

/** The `.ckpt` objects under `prefix` whose keys parse, oldest first by (epoch, step), then by key. */
export async function listCheckpoints(
  objects: ObjectClient,
  prefix: string,
  recursive = true,
): Promise<CheckpointRecord[]> {
  const out: CheckpointRecord[] = [];
  for (const object of await objects.list(prefix, { recursive })) {
    const parts = parseCheckpointKey(object.key);
    if (!parts) continue;
    const url = formatCheckpointUrl(objects.bucket, object.key);
    out.push({ ...parts, url, key: object.key, bytes: object.size, lastModified: object.lastModified });
  }
  return out.sort((a, b) => compareCheckpointParts(a, b) || a.key.localeCompare(b.key));
}
