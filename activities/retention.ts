/** Deletes checkpoints the retention policy no longer keeps; runs as its own activity after each epoch. */
import type { CheckpointStore } from '../src/checkpoint/store';
import { selectForDeletion } from '../src/checkpoint/retention';
import type { RetentionInput } from './types';

export async function applyRetention(
  store: CheckpointStore,
  input: RetentionInput,
): Promise<{ deleted: string[] }> {
  const { policy } = input;
  if (!policy.keepLast && !policy.topK) return { deleted: [] };
  const metricsByUrl = new Map(input.epochCheckpoints.map((e) => [e.ckpt.url, e.metrics]));
  // Only epoch-end checkpoints are ranked; intra-epoch ones go once a newer epoch end exists.
  const ours = input.checkpoints.filter((c) => c.url.split('/')[3] === input.runName); // never another run's
  const records = ours.map((c) => ({
    url: c.url,
    epoch: c.epoch,
    step: c.step,
    metrics: metricsByUrl.get(c.url),
  }));
  const deleted = selectForDeletion(
    records,
    { keepLast: policy.keepLast || undefined, topK: policy.topK },
    { resumeTarget: input.resumeTarget },
  );
  for (const url of deleted) await store.remove(url);
  return { deleted };
}
