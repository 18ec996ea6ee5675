/** Reading timings out of a workflow's history: when each epoch activity was scheduled, started, ended. */
import type { Client, WorkflowHandle } from '@temporalio/client';

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

export interface ActivityTiming {
  type: string;
  scheduledMs: number;
  startedMs?: number;
  closedMs?: number;
  completed: boolean;
}

export interface WorkflowTimings {
  startedMs: number;
  closedMs?: number;
  activities: ActivityTiming[];
}

const EPOCH_ACTIVITY = /Epoch$/;

export function eventMs(event: HistoryEvent): number {
  const t = event.eventTime;
  return Number(t?.seconds?.toString() ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;
}

export async function workflowTimings(client: Client, workflowId: string): Promise<WorkflowTimings> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const events = history.events ?? [];
  const byScheduled = new Map<string, ActivityTiming>();
  let closedMs: number | undefined;
  for (const e of events) {
    const id = e.eventId?.toString() ?? '';
    const ms = eventMs(e);
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled)
      byScheduled.set(id, { type: scheduled.activityType?.name ?? '', scheduledMs: ms, completed: false });
    const started = e.activityTaskStartedEventAttributes;
    if (started) setTiming(byScheduled, started.scheduledEventId, { startedMs: ms });
    const done = e.activityTaskCompletedEventAttributes;
    if (done) setTiming(byScheduled, done.scheduledEventId, { closedMs: ms, completed: true });
    const other = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (other) setTiming(byScheduled, other.scheduledEventId, { closedMs: ms });
    if (e.workflowExecutionCompletedEventAttributes) closedMs = ms;
  }
  return { startedMs: events[0] ? eventMs(events[0]) : 0, closedMs, activities: [...byScheduled.values()] };
}

function setTiming(
  map: Map<string, ActivityTiming>,
  scheduledId: { toString(): string } | null | undefined,
  patch: Partial<ActivityTiming>,
): void {
  const timing = map.get(scheduledId?.toString() ?? '');
  if (timing) Object.assign(timing, patch);
}

/** Completed epoch activities in order. */
export function completedEpochs(t: WorkflowTimings): ActivityTiming[] {
  return t.activities.filter((a) => EPOCH_ACTIVITY.test(a.type) && a.completed);
}

/** Milliseconds between consecutive epoch completions: each epoch with everything around it. */
export function epochPeriodsMs(t: WorkflowTimings): number[] {
  const done = completedEpochs(t).map((a) => a.closedMs ?? 0);
  return done.slice(1).map((ms, i) => ms - (done[i] as number));
}
