/** What changed between two looks at a run, as lines a person reads (used by `watch` and `npm start`). */
import type { RecoveryEvent } from '../../../activities/types';
import type { RunSnapshot } from './run-state';
import { epochMetrics } from './run-state';

/** Lines that describe what happened between `prev` (undefined: first look) and `next`. */
export function narrate(prev: RunSnapshot | undefined, next: RunSnapshot): string[] {
  const lines: string[] = [];
  const before = prev ? epochMetrics(prev).length : 0;
  const metrics = epochMetrics(next);
  for (let epoch = before; epoch < metrics.length; epoch++) {
    const ckpt = epoch === metrics.length - 1 ? epochCheckpoint(next, epoch) : undefined;
    lines.push(`✓ epoch ${epoch} done: ${formatMetrics(metrics[epoch] ?? {})}${ckpt ? ` → ${ckpt}` : ''}`);
  }
  const seen = prev ? recoveriesOf(prev).length : 0;
  for (const r of recoveriesOf(next).slice(seen)) lines.push(formatRecovery(r));
  const status = next.progress?.status ?? next.attributes.status;
  const prevStatus = prev && (prev.progress?.status ?? prev.attributes.status);
  if (prev && status && status !== prevStatus && ['paused', 'stopping'].includes(status))
    lines.push(`‖ ${status}`);
  if (prev && prevStatus === 'paused' && status === 'running') lines.push('▶ running again');
  const started = startedActivity(prev, next);
  if (started) lines.push(started);
  return lines;
}

export function formatRecovery(r: RecoveryEvent): string {
  return `⟲ ${r.kind} at epoch ${r.atEpoch} batch ${r.atBatch} (${r.reason}) → resumed from ${r.fromCkpt}`;
}

export function formatMetrics(metrics: Record<string, number>): string {
  return Object.entries(metrics)
    .map(([k, v]) => `${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
    .join(' · ');
}

/** The closing line(s): final checkpoint and weights, or why it failed. */
export function closingLines(s: RunSnapshot): string[] {
  if (s.result) {
    const last = s.result.epochs[s.result.epochs.length - 1];
    return [
      `■ ${s.result.status}: ${s.result.epochs.length} epochs, ${s.result.recoveries.length} ${s.result.recoveries.length === 1 ? 'recovery' : 'recoveries'}`,
      `  final metrics     ${formatMetrics(last?.metrics ?? {})}`,
      `  final checkpoint  ${s.result.finalCheckpoint.url}`,
      `  weights sha256    ${s.result.weightsSha256}`,
    ];
  }
  return [`■ ${s.execution.toLowerCase()}: ${s.failure ?? 'no result'}`];
}

function recoveriesOf(s: RunSnapshot): RecoveryEvent[] {
  return s.result?.recoveries ?? s.progress?.recoveries ?? [];
}

function epochCheckpoint(s: RunSnapshot, epoch: number): string | undefined {
  if (s.result) return s.result.epochs.find((e) => e.epoch === epoch)?.ckpt.url;
  const last = s.progress?.lastCheckpoint;
  return last && last.epoch === epoch + 1 && last.batch === 0 ? last.url : undefined;
}

/** "▶ epoch 2: trainEpoch on worker-1" when another activity, worker or epoch took over. */
function startedActivity(prev: RunSnapshot | undefined, next: RunSnapshot): string | undefined {
  const key = (s: RunSnapshot | undefined) =>
    s?.pending?.identity && `${s.pending.activityType}|${s.pending.identity}|${epochMetrics(s).length}`;
  const now = key(next);
  if (!now || now === key(prev)) return undefined;
  return `▶ epoch ${epochMetrics(next).length}: ${next.pending?.activityType} on ${next.pending?.identity}`;
}
