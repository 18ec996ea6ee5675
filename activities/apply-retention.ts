/**
 * After an epoch: deletes the checkpoints the retention policy no longer keeps. The epoch's entry of
 * the run's log (`<run>/log/epoch=000123.json`, the full history the bounded workflow record no
 * longer carries) is written by the epoch activity itself; histories from before that still pass
 * `epochLog` here and get it written (again, identically).
 */
import type { ActivityDeps } from './deps';
import type { RunFolder } from '../src/checkpoint/run-folder';
import { planParallelRetention, planRetention } from '../src/checkpoint/run-retention';
import type { EpochResult, RetentionInput } from '../src/contract';

/** Where an epoch's log entry lives inside the run's folder. */
export function epochLogName(epoch: number): string {
  return `log/epoch=${String(epoch).padStart(6, '0')}.json`;
}

/** Lists the run's folder (`runs`) and deletes what the policy no longer keeps (`store`). */
export async function applyRetention(
  { store, runs }: Pick<ActivityDeps, 'store' | 'runs'>,
  input: RetentionInput,
): Promise<{ deleted: string[] }> {
  if (input.epochLog) await writeEpochLog(runs, input.runName, input.epochLog);
  const { policy } = input;
  if (!policy.keepLast && !policy.topK) return { deleted: [] };
  // The folder's real contents, not only the record: intra-epoch checkpoints and other runs' pins.
  const deleted = input.parallel
    ? await planParallelRetention(runs, {
        runName: input.runName,
        globals: input.epochCheckpoints.map((e) => ({ url: e.ckpt.url, metrics: e.metrics })),
        policy: { keepLast: policy.keepLast || undefined, topK: policy.topK },
        resumeTarget: input.resumeTarget,
        keep: input.parallel.keep,
      })
    : await planRetention(runs, {
        runName: input.runName,
        recorded: input.checkpoints,
        epochEnds: input.epochCheckpoints.map((e) => ({ url: e.ckpt.url, metrics: e.metrics })),
        policy: { keepLast: policy.keepLast || undefined, topK: policy.topK },
        resumeTarget: input.resumeTarget,
      });
  for (const url of deleted) await store.remove(url);
  return { deleted };
}

/** Writes (or rewrites, identically) the epoch's entry of the run's log. */
export async function writeEpochLog(runs: RunFolder, runName: string, result: EpochResult): Promise<void> {
  const { epoch, step, ckpt, metrics, weightsSha256, backend, durationMs } = result;
  await runs.putRunJson(runName, epochLogName(epoch), {
    epoch,
    step,
    ckpt,
    metrics,
    weightsSha256,
    backend,
    durationMs,
  });
}
