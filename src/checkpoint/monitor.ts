/**
 * Top-K retention ranks checkpoints by a metric the task reports. A misspelled monitor would rank
 * nothing, and retention would then keep only the newest checkpoint, so an unknown name is refused
 * up front (as Lightning's ModelCheckpoint does), naming the metrics the task does report.
 */
import { InvalidSpecError } from '../spec';
import type { TrainingSpec } from '../spec';

/** Throws `InvalidSpecError` when `checkpoint.topK.monitor` is not one of `metricNames`. */
export function assertMonitorKnown(spec: TrainingSpec, metricNames: readonly string[]): void {
  const monitor = spec.checkpoint.topK?.monitor;
  if (monitor === undefined || metricNames.includes(monitor)) return;
  const near = metricNames.find((m) => squash(m) === squash(monitor));
  throw new InvalidSpecError([
    `checkpoint.topK.monitor: task "${spec.task}" reports no metric "${monitor}"` +
      (near ? ` (did you mean "${near}"?)` : '') +
      `; its metrics are ${metricNames.join(', ')}`,
  ]);
}

function squash(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}
