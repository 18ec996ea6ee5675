/**
 * The fault matrix's shared parts (issue 22): what a cell measures and writes to
 * `test-artifacts/reliability/<cell>.json` (scripts/reliability.ts renders docs/reliability.md from
 * those rows), the run's timeline read back from its history (fault → failed attempt → resumed
 * attempt → completion), and the checks every cell makes of a finished run.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { Progress, RecoveryEvent, TrainingResult } from '../../../src/contract';
import type { TrainingSpecInput } from '../../../src/spec';
import { CheckpointStore } from '../../../src/checkpoint/store';
import { createMinioObjectClient } from '../../../src/storage/minio-adapter';
import type { TestStack } from '../../helpers/stack-env';
import type { ResumePoint } from '../../helpers/resume-point';
import { stepsRedone } from '../../helpers/resume-point';

export const ROW_DIR = 'test-artifacts/reliability';

/** One measured cell, as written for docs/reliability.md. */
export interface MatrixRow {
  cell: string;
  fault: string;
  phase: string;
  /** What the cell expects of the run. */
  expect: string;
  status: 'pass' | 'fail';
  /** The failed assertion, when `status` is fail. */
  error?: string;
  /** Recoveries the run recorded. */
  recoveries?: number;
  /** The largest `stepsRedone` over the run's recoveries (0 without one). */
  stepsRedone?: number;
  /** The same from the run's goodput ledger, where the result carries one. */
  ledgerStepsRedone?: number;
  /** `checkpoint.everyBatches`. */
  interval: number;
  /** The bound the cell asserted on steps redone, with why it is not the interval where it differs. */
  redoneBound?: string;
  /** Fault → the failed attempt closed in the history (the server or the activity noticed). */
  detectSeconds?: number;
  /** Fault → the resumed attempt started on a worker. */
  recoverySeconds?: number;
  /** What the cell allowed for `recoverySeconds`: heartbeat timeout + backoff + deadline (+ terms). */
  recoveryBoundSeconds?: number;
  /** Fault → the run closed (completed, or failed naming its budget). */
  completionSeconds?: number;
  /** The recovery's kind and reason (first one). */
  recovery?: string;
  notes?: string[];
  /** A known bug or gap this cell runs into: the cell is `todo` in node:test until it is fixed. */
  todo?: string;
  measuredAt: string;
}

export type CellMeasure = Omit<MatrixRow, 'status' | 'error' | 'measuredAt'>;

/**
 * Runs a cell's body and writes its row whatever happens (a failed assertion is a `fail` row with
 * the message); the body fills `row` in as it measures.
 */
export async function measureCell(
  row: CellMeasure,
  body: (row: CellMeasure) => Promise<void>,
): Promise<void> {
  const started = Date.now();
  let status: MatrixRow['status'] = 'pass';
  let error: string | undefined;
  try {
    await body(row);
  } catch (err) {
    status = 'fail';
    error = err instanceof Error ? err.message.split('\n').slice(0, 6).join(' ') : String(err);
    throw err;
  } finally {
    fs.mkdirSync(ROW_DIR, { recursive: true });
    const written: MatrixRow = {
      ...row,
      status,
      ...(error ? { error } : {}),
      measuredAt: new Date(started).toISOString(),
    };
    fs.writeFileSync(path.join(ROW_DIR, `${row.cell}.json`), `${JSON.stringify(written, null, 2)}\n`);
  }
}

/** Epoch activities the workflow schedules. */
const EPOCH_ACTIVITY = /Epoch$/;

export interface Timeline {
  /** The first epoch attempt that failed or timed out at or after the fault (ms since the epoch). */
  failedAt?: number;
  /** The epoch attempt scheduled after it started on a worker. */
  resumedAt?: number;
  /** The workflow closed. */
  closedAt?: number;
  /** Workflow tasks that timed out after the fault (each one lost to a worker that never answered). */
  workflowTaskTimeouts: number;
}

function msOf(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number | undefined {
  if (!ts) return undefined;
  return Number(ts.seconds ?? 0) * 1000 + Math.floor((ts.nanos ?? 0) / 1e6);
}

/** Reads the fault's consequences from the run's history (server clock: the same machine). */
export async function timelineOf(handle: WorkflowHandle, faultAt: number): Promise<Timeline> {
  const events = (await handle.fetchHistory()).events ?? [];
  const epochScheduled = new Set<string>();
  const startedOf = new Map<string, number>();
  let failedAt: number | undefined;
  let failedEventId = 0;
  let closedAt: number | undefined;
  let workflowTaskTimeouts = 0;
  for (const e of events) {
    const id = String(e.eventId);
    const at = msOf(e.eventTime) ?? 0;
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled && EPOCH_ACTIVITY.test(scheduled.activityType?.name ?? '')) epochScheduled.add(id);
    const started = e.activityTaskStartedEventAttributes;
    if (started) startedOf.set(String(started.scheduledEventId), at);
    const ended = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (
      ended &&
      failedAt === undefined &&
      epochScheduled.has(String(ended.scheduledEventId)) &&
      at >= faultAt - 50 // the test's clock and the server's differ by scheduling only
    ) {
      failedAt = at;
      failedEventId = Number(e.eventId);
    }
    if (e.workflowTaskTimedOutEventAttributes && at >= faultAt) workflowTaskTimeouts++;
    if (
      e.workflowExecutionCompletedEventAttributes ||
      e.workflowExecutionFailedEventAttributes ||
      e.workflowExecutionContinuedAsNewEventAttributes
    )
      closedAt = at;
  }
  const resumedId = [...epochScheduled]
    .map(Number)
    .find((id) => id > failedEventId && failedAt !== undefined);
  const resumedAt = resumedId === undefined ? undefined : startedOf.get(String(resumedId));
  return {
    workflowTaskTimeouts,
    ...(failedAt !== undefined ? { failedAt } : {}),
    ...(resumedAt !== undefined ? { resumedAt } : {}),
    ...(closedAt !== undefined ? { closedAt } : {}),
  };
}

/** Fills the row's seconds from the timeline. */
export function recordTimeline(row: CellMeasure, timeline: Timeline, faultAt: number): void {
  const s = (at: number | undefined) => (at === undefined ? undefined : Math.round(at - faultAt) / 1000);
  const detect = s(timeline.failedAt);
  const recovery = s(timeline.resumedAt);
  const completion = s(timeline.closedAt);
  if (detect !== undefined) row.detectSeconds = detect;
  if (recovery !== undefined) row.recoverySeconds = recovery;
  if (completion !== undefined) row.completionSeconds = completion;
  if (timeline.workflowTaskTimeouts > 0)
    (row.notes ??= []).push(`${timeline.workflowTaskTimeouts} workflow task(s) timed out after the fault`);
}

/** Steps redone over the run's recoveries (the largest), and the ledger's figure when there is one. */
export function recordRedone(row: CellMeasure, points: ResumePoint[], result?: unknown): number {
  const redone = Math.max(0, ...points.map(stepsRedone));
  row.recoveries = points.length;
  row.stepsRedone = redone;
  const first = points[0]?.recovery;
  if (first) row.recovery = `${first.kind}: ${first.reason.slice(0, 160)}`;
  const ledger = (result as { goodput?: { stepsRedone?: unknown } } | undefined)?.goodput?.stepsRedone;
  if (typeof ledger === 'number') row.ledgerStepsRedone = ledger;
  return redone;
}

/** Polls the progress query until more than `count` recoveries are recorded; returns the newest. */
export async function waitForRecovery(
  handle: WorkflowHandle,
  count = 0,
  timeoutMs = 60_000,
): Promise<RecoveryEvent> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const progress = await handle.query<Progress>('progress');
    const total = progress.recoveryCount ?? progress.recoveries.length;
    if (total > count) return progress.recoveries[progress.recoveries.length - 1] as RecoveryEvent;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no recovery within ${timeoutMs} ms of the fault`);
}

/**
 * The run's result is consistent: every epoch recorded once and in order, the final checkpoint is
 * the last epoch's, its weights (loaded and verified from the store) are the result's, and those
 * are the uninterrupted run's.
 */
export async function assertConsistent(
  result: TrainingResult,
  spec: TrainingSpecInput,
  golden: string,
  stack: TestStack,
): Promise<void> {
  assert.equal(result.status, 'completed');
  assert.deepEqual(
    result.epochs.map((e) => e.epoch),
    Array.from({ length: spec.epochs ?? 0 }, (_, i) => i),
  );
  const last = result.epochs[result.epochs.length - 1];
  assert.equal(result.finalCheckpoint.url, last?.ckpt.url);
  assert.equal(result.weightsSha256, last?.weightsSha256);
  assert.equal(result.weightsSha256, golden, 'final weights differ from the uninterrupted run');
  const store = new CheckpointStore(createMinioObjectClient(stack.s3));
  const state = await store.load(result.finalCheckpoint.url, {
    sha256: result.finalCheckpoint.sha256,
    bytes: result.finalCheckpoint.bytes,
  });
  assert.equal(state.meta.weightsSha256, result.weightsSha256, 'the final checkpoint holds other weights');
}

/** The length of a worker's log now: text after it is what the worker logged since. */
export function logMark(file: string): number {
  return fs.existsSync(file) ? fs.statSync(file).size : 0;
}

/** Waits until `text` appears `times` times in the log after `mark`. */
export async function waitForLog(
  file: string,
  mark: number,
  text: string,
  times = 1,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const after = fs.readFileSync(file).subarray(mark).toString('utf8');
    if (after.split(text).length - 1 >= times) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`"${text}" not logged ${times} time(s) in ${file} within ${timeoutMs} ms`);
}
