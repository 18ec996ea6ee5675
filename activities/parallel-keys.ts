/**
 * Where data-parallel checkpoints live, under the run's folder, and how they are written: explicit
 * `.ckpt` URLs, create-only, never reused. A shard's attempt number is in its keys, so a re-run
 * never meets an object its dead attempt wrote; a merge writes the same global weights on a retry,
 * so an existing global with the same weights hash is adopted.
 *
 *   <run>/parallel/round=0003/global.ckpt                      global state at the start of round 3
 *   <run>/parallel/round=0003/shard=01/step=0000065-try=0.ckpt  shard 1 inside round 3
 *   <run>/parallel/round=0003/shard=01/end-try=1.ckpt           shard 1's result of round 3
 */
import { CheckpointExistsError } from '../src/checkpoint/errors';
import { encodeCheckpointParts } from '../src/checkpoint/format';
import { formatCheckpointUrl } from '../src/checkpoint/keys';
import type { CheckpointIO } from '../src/checkpoint/checkpoint-io';
import type { CheckpointRef } from '../src/contract';
import type { TrainingState } from '../src/state';

const pad = (n: number, width: number) => String(n).padStart(width, '0');

export function globalKey(runName: string, round: number): string {
  return `${runName}/parallel/round=${pad(round, 4)}/global.ckpt`;
}

export function shardKey(
  runName: string,
  round: number,
  shard: number,
  attempt: number,
  step?: number,
): string {
  const name = step === undefined ? `end-try=${attempt}` : `step=${pad(step, 7)}-try=${attempt}`;
  return `${runName}/parallel/round=${pad(round, 4)}/shard=${pad(shard, 2)}/${name}.ckpt`;
}

/** Saves `state` at `key` (create-only) and returns its durable reference. */
export async function saveAt(store: CheckpointIO, key: string, state: TrainingState): Promise<CheckpointRef> {
  const saved = await store.saveEncoded(formatCheckpointUrl(store.bucket, key), encodeCheckpointParts(state));
  return refOf(saved, state);
}

/** Like `saveAt`, but an existing object with the same weights (a retried merge) is adopted. */
export async function saveOrAdopt(
  store: CheckpointIO,
  key: string,
  state: TrainingState,
): Promise<CheckpointRef> {
  try {
    return await saveAt(store, key, state);
  } catch (err) {
    if (!(err instanceof CheckpointExistsError)) throw err;
    const url = formatCheckpointUrl(store.bucket, key);
    const stat = await store.stat(url);
    const existing = await store.load(url, { sha256: stat.sha256, bytes: stat.bytes });
    if (existing.meta.weightsSha256 !== state.meta.weightsSha256) throw err;
    return refOf({ url, sha256: stat.sha256 ?? '', bytes: stat.bytes }, existing);
  }
}

function refOf(saved: { url: string; sha256: string; bytes: number }, state: TrainingState): CheckpointRef {
  const { epoch, batch, step } = state.meta.cursor;
  return { url: saved.url, sha256: saved.sha256, bytes: saved.bytes, epoch, batch, step };
}
