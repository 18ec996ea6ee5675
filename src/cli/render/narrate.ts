/** What changed between two looks at a run, as lines a person reads (used by `watch` and `npm start`). */
import type { RecoveryEvent } from '../../contract';
import type { RunSnapshot } from './run-state';
import { epochMetrics, epochsDone, firstWindowEpoch, recoveryTotal } from './run-state';
import { roundsLine, unitOf } from './round-grid';

/** Lines that describe what happened between `prev` (undefined: first look) and `next`. */
export function narrate(prev: RunSnapshot | undefined, next: RunSnapshot): string[] {
  const lines: string[] = [];
  // The result and progress query list only the most recent epochs and recoveries: count by totals.
  const metrics = epochMetrics(next);
  const first = firstWindowEpoch(next);
  const done = epochsDone(next);
  const unit = unitOf(next); // a data-parallel run counts rounds
  for (let epoch = Math.max(prev ? epochsDone(prev) : 0, first); epoch < done; epoch++) {
    const ckpt = epoch === done - 1 ? epochCheckpoint(next, epoch) : undefined;
    const line = formatMetrics(metrics[epoch - first] ?? {});
    lines.push(`✓ ${unit} ${epoch} done: ${line}${ckpt ? ` → ${ckpt}` : ''}`);
  }
  if (unit === 'round' && done > (prev ? epochsDone(prev) : 0) && next.progress?.parallel)
    lines.push(`  ${roundsLine(next)}`);
  const fresh = recoveryTotal(next) - (prev ? recoveryTotal(prev) : 0);
  if (fresh > 0) for (const r of recoveriesOf(next).slice(-fresh)) lines.push(formatRecovery(r, unit));
  const status = next.progress?.status ?? next.attributes.status;
  const prevStatus = prev && (prev.progress?.status ?? prev.attributes.status);
  if (prev && status && status !== prevStatus && ['paused', 'stopping'].includes(status))
    lines.push(`‖ ${status}`);
  if (prev && prevStatus === 'paused' && status === 'running') lines.push('▶ running again');
  const started = startedActivity(prev, next);
  if (started) lines.push(started);
  return lines;
}

/** How a recovery line starts. */
export const RECOVERY_MARK = '⟲ ';

export function formatRecovery(r: RecoveryEvent, unit: 'epoch' | 'round' = 'epoch'): string {
  return `${RECOVERY_MARK}${r.kind} at ${unit} ${r.atEpoch} batch ${r.atBatch} (${r.reason}) → resumed from ${r.fromCkpt}${r.site ? ` at ${r.site}` : ''}`;
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
      `■ ${s.result.status}: ${epochsDone(s)} ${unitOf(s)}s, ${recoveryTotal(s)} ${recoveryTotal(s) === 1 ? 'recovery' : 'recoveries'}`,
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
    s?.pending?.identity && `${s.pending.activityType}|${s.pending.identity}|${epochsDone(s)}`;
  const now = key(next);
  if (!now || now === key(prev)) return undefined;
  return `▶ epoch ${epochsDone(next)}: ${next.pending?.activityType} on ${next.pending?.identity}`;
}
