/**
 * The fault matrix's shared parts (issue 22): what a cell measures and writes to
 * `test-artifacts/reliability/<cell>.json` (scripts/reliability.ts renders docs/reliability.md from
 * those rows), the run's timeline read back from its history (fault → failed attempt → resumed
 * attempt → completion), and the checks every cell makes of a finished run, "no leftovers" among
 * them: after each cell that passed, `measureCell` checks the run folders it started (no incomplete
 * multipart upload, no `.uploads/` journal) and the file's worker fleet (no process outliving its
 * worker, no scratch or trainer transfer folder beyond what a live worker holds, none of a SIGKILLed
 * worker's once another worker started).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type * as Minio from 'minio';
import type { Progress, RecoveryEvent, TrainingResult } from '../../../src/contract';
import type { TrainingSpecInput } from '../../../src/spec';
import { ObjectCheckpointIO } from '../../../src/checkpoint/object-checkpoint-io';
import { createMinioObjectClient } from '../../../src/storage/minio-adapter';
import type { MinioConnection } from '../../../src/storage/minio-adapter';
import type { TestStack } from '../../helpers/stack-env';
import { rawMinioClient } from '../../helpers/raw-minio';
import type { ResumePoint } from '../../helpers/resume-point';
import { resumePoints, stepsRedone } from '../../helpers/resume-point';

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
  /** What the "no leftovers" check looked at (absent: the cell failed before it). */
  leftovers?: string;
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
  cellRuns.clear();
  try {
    await body(row);
    if (leftoverScope) row.leftovers = await assertNoLeftovers(leftoverScope, [...cellRuns]);
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

/**
 * Reads the run's timeline since the fault at `faultAt` and its resume points from its history and
 * records both in the row (`recordTimeline`, `recordRedone`); returns them for the cell's checks.
 */
export async function recordRun(
  row: CellMeasure,
  handle: WorkflowHandle,
  faultAt: number,
  result: Pick<TrainingResult, 'recoveries' | 'epochs'>,
): Promise<{ timeline: Timeline; points: ResumePoint[] }> {
  const timeline = await timelineOf(handle, faultAt);
  recordTimeline(row, timeline, faultAt);
  const points = await resumePoints(handle, result);
  recordRedone(row, points, result);
  return { timeline, points };
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
  const store = new ObjectCheckpointIO(createMinioObjectClient(stack.s3));
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

/** What the "no leftovers" check of a file's cells looks at (openMatrixFile sets it). */
export interface LeftoverScope {
  /** The test stack's MinIO, reached directly (not through a fault proxy). */
  s3: MinioConnection;
  /**
   * `NAME=value` in the environment of this file's worker processes; their trainer children (which
   * get `DFIT_*` variables) and any process they start carry it too.
   */
  marker: string;
}

let leftoverScope: LeftoverScope | undefined;
/** Run folders the cell under way started. */
const cellRuns = new Set<string>();
/** Workers of this file that were SIGKILLed (their scratch folders stay until a worker starts). */
const killedWorkers = new Set<number>();

/** Every cell of this file checks for leftovers in `scope` once its body passed. */
export function watchLeftovers(scope: LeftoverScope): void {
  leftoverScope = scope;
}

/** A run folder the cell under way wrote to (its checks look for leftovers there). */
export function noteRun(runName: string): void {
  cellRuns.add(runName);
}

/**
 * A worker process this file SIGKILLed: once a worker started after it, no scratch folder of that
 * process may be left (every worker removes dead workers' folders when it starts).
 */
export function noteKilledWorker(pid: number | undefined): void {
  if (pid !== undefined) killedWorkers.add(pid);
}

/** A process's parent and command line, from /proc (undefined: it is gone). */
function processInfo(pid: number): { ppid: number; cmdline: string; environ: string[] } | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
    const environ = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    return { ppid, cmdline, environ };
  } catch {
    return undefined; // gone, or another user's
  }
}

interface FleetProcess {
  pid: number;
  ppid: number;
  cmdline: string;
}

/** The processes whose environment holds `marker` (Linux /proc; empty elsewhere). */
function fleetProcesses(marker: string): FleetProcess[] {
  if (!fs.existsSync('/proc/self/stat')) return [];
  const out: FleetProcess[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = processInfo(Number(name));
    if (info?.environ.includes(marker))
      out.push({ pid: Number(name), ppid: info.ppid, cmdline: info.cmdline });
  }
  return out;
}

/** One pass of the process and scratch-folder checks: the problems found. */
function machineProblems(scope: LeftoverScope): { problems: string[]; workers: number; trainers: number } {
  const procs = fleetProcesses(scope.marker);
  const pids = new Set(procs.map((p) => p.pid));
  const problems: string[] = [];
  // A worker is this test process's child; anything else must have a live parent of the fleet.
  for (const p of procs)
    if (p.ppid !== process.pid && !pids.has(p.ppid))
      problems.push(`process ${p.pid} (${p.cmdline.slice(0, 120)}) outlived its parent ${p.ppid}`);
  const workers = procs.filter((p) => p.ppid === process.pid && /durable-fit\.cjs worker/.test(p.cmdline));
  const trainersOf = (pid: number) =>
    procs.filter((p) => p.ppid === pid && p.cmdline.includes('trainer-child')).length;
  const tmp = os.tmpdir();
  const scratch = fs.readdirSync(tmp).filter((n) => n.startsWith('dfit-worker-'));
  const pidOf = (name: string) => Number(/^dfit-worker-(\d+)-/.exec(name)?.[1] ?? NaN);
  for (const w of workers) {
    const own = scratch.filter((n) => pidOf(n) === w.pid);
    if (own.length > 1) problems.push(`worker ${w.pid} has ${own.length} scratch folders: ${own.join(', ')}`);
    const transfer = own.flatMap((n) => {
      try {
        return fs.readdirSync(path.join(tmp, n)).filter((t) => t.startsWith('dfit-trainer-'));
      } catch {
        return []; // removed meanwhile (the worker stopped)
      }
    });
    const live = trainersOf(w.pid);
    if (transfer.length > live)
      problems.push(
        `worker ${w.pid} holds ${transfer.length} trainer transfer folders for ${live} live trainer(s): ${transfer.join(', ')}`,
      );
  }
  for (const pid of killedWorkers) {
    const left = scratch.filter((n) => pidOf(n) === pid);
    if (left.length)
      problems.push(`the SIGKILLed worker ${pid} left ${left.join(', ')} after a worker started`);
  }
  const trainers = workers.reduce((n, w) => n + trainersOf(w.pid), 0);
  return { problems, workers: workers.length, trainers };
}

/** Incomplete multipart uploads and upload journals under a run folder. */
async function bucketProblems(raw: Minio.Client, bucket: string, runName: string): Promise<string[]> {
  const problems: string[] = [];
  const keys: string[] = [];
  for await (const item of raw.listObjectsV2(bucket, `${runName}/`, true)) {
    const name = (item as { name?: string }).name;
    if (name) keys.push(name);
  }
  const journals = keys.filter((k) => k.includes('/.uploads/'));
  if (journals.length) problems.push(`upload journals left in ${runName}/: ${journals.join(', ')}`);
  // MinIO lists incomplete uploads by exact key only: ask for every key the folder holds or names.
  const named = [...keys.filter((k) => !k.includes('/.uploads/')), ...journals.map(journalTarget)];
  for (const key of new Set(named)) {
    for await (const upload of raw.listIncompleteUploads(bucket, key, false)) {
      const u = upload as { key?: string; uploadId?: string };
      if (u.key === key) problems.push(`incomplete multipart upload of ${key} (${u.uploadId})`);
    }
  }
  return problems;
}

/** `run/.uploads/<name>.<hash>.json` → `run/<name>` (the key the journaled upload was writing). */
function journalTarget(journal: string): string {
  return journal.replace(/\.uploads\/(.+)\.[0-9a-f]+\.json$/, '$1');
}

/**
 * The "no leftovers" check: nothing of an interrupted upload under the cell's run folders, no
 * process of the file's fleet outliving its parent (a SIGKILLed worker's trainer), no scratch or
 * trainer transfer folder beyond what the live workers hold, none of a SIGKILLed worker. Processes
 * that are exiting get up to 5 s. Returns what it looked at, for the row.
 */
export async function assertNoLeftovers(scope: LeftoverScope, runs: readonly string[]): Promise<string> {
  const raw = rawMinioClient(scope.s3);
  const s3Problems = (await Promise.all(runs.map((r) => bucketProblems(raw, scope.s3.bucket, r)))).flat();
  assert.deepEqual(s3Problems, [], 'leftovers in the bucket');
  let pass = machineProblems(scope);
  for (let i = 0; i < 50 && pass.problems.length; i++) {
    await new Promise((r) => setTimeout(r, 100));
    pass = machineProblems(scope);
  }
  assert.deepEqual(pass.problems, [], 'leftovers on the machine');
  return (
    `none: ${runs.length} run folder(s) without upload journals or incomplete uploads; ` +
    `${pass.workers} worker(s) with ${pass.trainers} trainer(s), no orphan process, no scratch ` +
    `folder beyond theirs${killedWorkers.size ? `, none of the ${killedWorkers.size} SIGKILLed` : ''}`
  );
}
