/**
 * Per-phase breakdowns read from a workflow's history timestamps: of an epoch boundary (last batch of
 * N → first batch of N+1) and of a recovery (signal → first batch after resume). History has no event
 * for what happens inside an activity, so the trainer's own batch timestamps bound the first and
 * last phases; each phase is the time between two named moments, summarised over many boundaries.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import { eventMs } from './history';
import type { Summary } from './stats';
import { summarize } from './stats';
import type { BatchMark, JobMoment } from './tapped-worker';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface Phase {
  name: string;
  ms: Summary;
}

export async function fetchEvents(
  client: Client,
  workflowId: string,
  runId?: string,
): Promise<HistoryEvent[]> {
  return (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
}

interface Moment {
  kind: string;
  ms: number;
  activity?: string;
}

/** The history as a flat timeline of the moments the breakdowns need. */
export function timeline(events: readonly HistoryEvent[]): Moment[] {
  const typeOf = new Map<string, string>();
  const out: Moment[] = [];
  for (const e of events) {
    const ms = eventMs(e);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled) {
      const type = scheduled.activityType?.name ?? '';
      typeOf.set(e.eventId?.toString() ?? '', type);
      out.push({ kind: 'scheduled', ms, activity: type });
    }
    const ref =
      e.activityTaskStartedEventAttributes ??
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (ref) {
      const kind = e.activityTaskStartedEventAttributes
        ? 'started'
        : e.activityTaskCompletedEventAttributes
          ? 'completed'
          : e.activityTaskFailedEventAttributes
            ? 'failed'
            : 'timedOut';
      out.push({ kind, ms, activity: typeOf.get(ref.scheduledEventId?.toString() ?? '') ?? '' });
    }
    if (e.workflowTaskStartedEventAttributes) out.push({ kind: 'wftStarted', ms });
    if (e.workflowTaskCompletedEventAttributes) out.push({ kind: 'wftCompleted', ms });
  }
  return out.sort((a, b) => a.ms - b.ms);
}

const isEpoch = (m: Moment) => /Epoch$/.test(m.activity ?? '');
const firstAfter = (t: readonly Moment[], ms: number, pred: (m: Moment) => boolean) =>
  t.find((m) => m.ms >= ms && pred(m));

export const BOUNDARY_PHASES = [
  'last batch → state handed to the activity (validation, state hand-off)',
  'handed → checkpoint saved (hash, encode, upload)',
  'saved → activity completed (completion reported)',
  'completed → workflow task done',
  'retention activity (scheduled → completed; 0 when skipped)',
  'retention → next epoch scheduled (workflow task)',
  'scheduled → started (task queue dispatch)',
  'started → engine asked to start (activity: resolve the checkpoint)',
  'engine asked → first batch (trainer start or adopt, first step; < 0: trained ahead)',
  'total: last batch → first batch',
] as const;

/**
 * Boundary phases (ms) for every epoch N → N+1 where both sides have trainer marks; a phase whose
 * activity moment is missing (`moments` of the tapped worker) is left out of that boundary.
 */
export function boundaryPhases(
  events: readonly HistoryEvent[],
  marks: readonly BatchMark[],
  moments: readonly JobMoment[],
): Phase[] {
  const t = timeline(events);
  const samples: number[][] = BOUNDARY_PHASES.map(() => []);
  const completions = t.filter((m) => m.kind === 'completed' && isEpoch(m));
  // Without failures the k-th completed epoch activity is epoch k (the trainer may be epochs ahead).
  for (const [epoch, done] of completions.entries()) {
    const last = marks.filter((m) => m.epoch === epoch && m.batch === m.batches - 1).at(-1);
    if (!last) continue;
    const first = marks.find((m) => m.epoch === last.epoch + 1);
    const wft = firstAfter(t, done.ms, (m) => m.kind === 'wftCompleted');
    const next = firstAfter(t, done.ms, (m) => m.kind === 'scheduled' && isEpoch(m));
    const started = next && firstAfter(t, next.ms, (m) => m.kind === 'started' && isEpoch(m));
    if (!first || !wft || !next || !started) continue;
    const retention = t.filter(
      (m) => m.ms >= done.ms && m.ms <= next.ms && /etention/.test(m.activity ?? ''),
    );
    const rStart = retention.find((m) => m.kind === 'scheduled')?.ms ?? wft.ms;
    const rEnd = retention.filter((m) => m.kind !== 'scheduled').at(-1)?.ms ?? rStart;
    const moment = (kind: JobMoment['kind'], epoch: number) =>
      moments.find((m) => m.kind === kind && m.epoch === epoch)?.at ?? NaN;
    const [handed, saved, asked] = [
      moment('done', last.epoch),
      moment('saved', last.epoch),
      moment('start', last.epoch + 1),
    ];
    const values = [
      handed - last.at,
      saved - handed,
      done.ms - saved,
      wft.ms - done.ms,
      rEnd - rStart,
      next.ms - wft.ms - (rEnd - rStart),
      started.ms - next.ms,
      asked - started.ms,
      first.at - asked,
      first.at - last.at,
    ];
    values.forEach((v, i) => Number.isFinite(v) && samples[i]?.push(v));
  }
  return BOUNDARY_PHASES.map((name, i) => ({ name, ms: summarize(samples[i] ?? []) }));
}

export const RECOVERY_PHASES = [
  'signal → failure recorded (heartbeat timeout detected, or the failed activity reported)',
  'failure → workflow task started (a worker picks up the run)',
  'workflow task started → completed (replay, recovery decision)',
  'completed → resume scheduled',
  'resume scheduled → started (task queue dispatch)',
  'started → first batch seen (checkpoint download, verify, restore, first step, heartbeat)',
  'total: signal → first batch seen',
] as const;

/** What the bench knew at the sample: when it signalled, when it saw the first batch, the pending activity's times. */
export interface RecoveryMoments {
  signalledAt: number;
  firstBatchAt: number;
  scheduledAt?: number;
  startedAt?: number;
}

/** The recovery phases (ms) of one sample, or undefined where history lacks a moment. */
export function recoveryPhases(events: readonly HistoryEvent[], at: RecoveryMoments): number[] | undefined {
  const t = timeline(events);
  const failure = firstAfter(
    t,
    at.signalledAt,
    (m) => (m.kind === 'timedOut' || m.kind === 'failed') && isEpoch(m),
  );
  if (!failure) return undefined;
  const wftStart = firstAfter(t, failure.ms, (m) => m.kind === 'wftStarted');
  const wftDone = wftStart && firstAfter(t, wftStart.ms, (m) => m.kind === 'wftCompleted');
  const scheduled =
    at.scheduledAt ?? firstAfter(t, failure.ms, (m) => m.kind === 'scheduled' && isEpoch(m))?.ms;
  if (!wftStart || !wftDone || scheduled === undefined || at.startedAt === undefined) return undefined;
  return [
    failure.ms - at.signalledAt,
    wftStart.ms - failure.ms,
    wftDone.ms - wftStart.ms,
    scheduled - wftDone.ms,
    at.startedAt - scheduled,
    at.firstBatchAt - at.startedAt,
    at.firstBatchAt - at.signalledAt,
  ];
}

/** Summarises per-sample phase vectors into named phases. */
export function summarizePhases(names: readonly string[], samples: readonly number[][]): Phase[] {
  return names.map((name, i) => ({
    name,
    ms: summarize(samples.map((s) => s[i] ?? NaN).filter(Number.isFinite)),
  }));
}
