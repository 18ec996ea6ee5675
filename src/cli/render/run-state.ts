/**
 * One look at a training run, as the CLI shows it: Temporal's description (status, search attributes,
 * memo, the pending epoch activity and its heartbeat details), plus the workflow's `progress` query
 * while it runs or its result once it completed.
 */
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { HeartbeatDetails, ShardHeartbeat } from '../../contract';
import type { ParallelRunProgress, ParallelTrainingResult } from '../../contract';
import { BACKEND, BEST_METRIC, EPOCH, LOSS, RECOVERIES, RUN_NAME, STATUS, TASK } from '../../contract';
import { progressQuery } from '../../client';

/** The epoch activity that is running (or waiting for a worker), with its last heartbeat. */
export interface PendingEpoch {
  activityType: string;
  /** Identity of the worker that runs it; absent while it waits for a worker. */
  identity?: string;
  details?: HeartbeatDetails;
  /** When the last heartbeat arrived (ms since epoch). */
  lastHeartbeatAt?: number;
}

/** A data-parallel run's shard activity that is running (or waiting for a worker). */
export interface PendingShard {
  /** Identity of the worker that runs it; absent while it waits for a worker. */
  identity?: string;
  /** Its last heartbeat (names the round and shard); absent before the first one. */
  details?: ShardHeartbeat;
}

export interface RunSnapshot {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  execution: string;
  startTime: string;
  closeTime?: string;
  attributes: {
    task?: string;
    status?: string;
    epoch?: number;
    loss?: number;
    bestMetric?: number;
    recoveries?: number;
    backend?: string;
    runName?: string;
  };
  summary?: string;
  /** A data-parallel run's answer also has `parallel` (rounds and shards). */
  progress?: ParallelRunProgress;
  /** A data-parallel run's result also has `rounds`. */
  result?: ParallelTrainingResult;
  pending?: PendingEpoch;
  /** A data-parallel run's shard activities in flight (empty for other runs). */
  shards?: PendingShard[];
  /** Why the run failed (FAILED, TERMINATED, TIMED_OUT). */
  failure?: string;
}

export function isClosed(snapshot: RunSnapshot): boolean {
  return snapshot.execution !== 'RUNNING';
}

/** Reads the run now. `progress` is queried only while it runs (queries need a live worker). */
export async function readRun(client: Client, workflowId: string): Promise<RunSnapshot> {
  const handle = client.workflow.getHandle(workflowId);
  const description = await handle.describe();
  const snapshot = fromDescription(description);
  if (snapshot.execution === 'RUNNING') {
    snapshot.progress = await queryProgress(client, handle);
  } else if (snapshot.execution === 'COMPLETED') {
    snapshot.result = (await handle.result()) as ParallelTrainingResult;
  } else {
    snapshot.failure = await failureOf(handle, snapshot.execution);
  }
  return snapshot;
}

function fromDescription(d: WorkflowExecutionDescription): RunSnapshot {
  const sa = d.typedSearchAttributes;
  const memo = d.memo as { summary?: string } | undefined;
  return {
    workflowId: d.workflowId,
    runId: d.runId,
    execution: d.status.name,
    startTime: d.startTime.toISOString(),
    ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
    attributes: {
      task: sa.get(TASK),
      status: sa.get(STATUS),
      epoch: sa.get(EPOCH),
      loss: sa.get(LOSS),
      bestMetric: sa.get(BEST_METRIC),
      recoveries: sa.get(RECOVERIES),
      backend: sa.get(BACKEND),
      runName: sa.get(RUN_NAME),
    },
    summary: memo?.summary,
    pending: pendingEpochOf(d),
    shards: pendingShardsOf(d),
  };
}

function pendingEpochOf(d: WorkflowExecutionDescription): PendingEpoch | undefined {
  const pending = d.raw.pendingActivities?.find((a) => /Epoch$/.test(a.activityType?.name ?? ''));
  if (!pending) return undefined;
  const payload = pending.heartbeatDetails?.payloads?.[0];
  const seconds = pending.lastHeartbeatTime?.seconds;
  return {
    activityType: pending.activityType?.name ?? '',
    identity: pending.state === 2 /* STARTED */ ? (pending.lastWorkerIdentity ?? undefined) : undefined,
    details: payload ? defaultPayloadConverter.fromPayload<HeartbeatDetails>(payload) : undefined,
    lastHeartbeatAt: seconds ? Number(seconds) * 1000 : undefined,
  };
}

function pendingShardsOf(d: WorkflowExecutionDescription): PendingShard[] {
  return (d.raw.pendingActivities ?? [])
    .filter((a) => a.activityType?.name === 'trainShard')
    .map((a) => {
      const payload = a.heartbeatDetails?.payloads?.[0];
      return {
        ...(a.state === 2 /* STARTED */ && a.lastWorkerIdentity ? { identity: a.lastWorkerIdentity } : {}),
        ...(payload ? { details: defaultPayloadConverter.fromPayload<ShardHeartbeat>(payload) } : {}),
      };
    });
}

/** The progress query, or undefined when no worker answers within a few seconds. */
async function queryProgress(
  client: Client,
  handle: WorkflowHandle,
): Promise<ParallelRunProgress | undefined> {
  try {
    return await client.withDeadline(Date.now() + 5000, () => handle.query(progressQuery));
  } catch {
    return undefined;
  }
}

async function failureOf(handle: WorkflowHandle, execution: string): Promise<string> {
  try {
    await handle.result();
    return execution;
  } catch (err) {
    let cause: unknown = err;
    while (cause instanceof Error && cause.cause instanceof Error) cause = cause.cause;
    return cause instanceof Error ? cause.message : String(cause);
  }
}

/** `<uiUrl>/namespaces/<ns>/workflows/<id>`: the run's page in the Temporal Web UI. */
/** `batch 122/282`, or `batch 122` while the attempt has not yet said how many batches its epoch has. */
export function batchOf(d: Pick<HeartbeatDetails, 'batch' | 'batches'>): string {
  return d.batches > 0 ? `batch ${d.batch}/${d.batches}` : `batch ${d.batch}`;
}

export function uiLink(uiUrl: string, namespace: string, workflowId: string): string {
  return `${uiUrl}/namespaces/${namespace}/workflows/${encodeURIComponent(workflowId)}`;
}

/** Finished epochs: the result and the progress query keep only a window of them, so count by the cursor. */
export function epochsDone(snapshot: RunSnapshot): number {
  if (snapshot.result) return snapshot.result.finalCheckpoint.epoch;
  return snapshot.progress?.epoch ?? epochMetrics(snapshot).length;
}

/** The epoch number of the first entry of `epochMetrics` (the window ends at the last finished epoch). */
export function firstWindowEpoch(snapshot: RunSnapshot): number {
  return Math.max(0, epochsDone(snapshot) - epochMetrics(snapshot).length);
}

/** All recoveries of the run, not only the window the result or progress query lists. */
export function recoveryTotal(snapshot: RunSnapshot): number {
  const listed = snapshot.result?.recoveries ?? snapshot.progress?.recoveries ?? [];
  return snapshot.result?.recoveryCount ?? snapshot.progress?.recoveryCount ?? listed.length;
}

/** Metrics per finished epoch (the most recent window), from the result or the progress query. */
export function epochMetrics(snapshot: RunSnapshot): Record<string, number>[] {
  if (snapshot.result) return snapshot.result.epochs.map((e) => e.metrics);
  return snapshot.progress?.metrics ?? [];
}
