/**
 * A data-parallel run's shard activities, read from Temporal for fault tests: the shards running now
 * with their last heartbeat, polling until one reaches a point of its round, and every trainShard
 * input the workflow scheduled (from its history).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ShardHeartbeat, TrainShardInput } from '../../src/contract';

export interface PendingShard {
  identity: string;
  details: ShardHeartbeat;
}

export interface PendingShardOptions {
  /** Only attempts a worker has started (not those scheduled again, waiting for one). @default false */
  started?: boolean;
}

/** The run's pending trainShard activities that have heartbeated, with their worker. */
export async function pendingShards(
  handle: WorkflowHandle,
  options: PendingShardOptions = {},
): Promise<PendingShard[]> {
  const pending = (await handle.describe()).raw.pendingActivities ?? [];
  return pending.flatMap((a) => {
    const payload = a.heartbeatDetails?.payloads?.[0];
    if (a.activityType?.name !== 'trainShard' || !payload || !a.lastWorkerIdentity) return [];
    if (options.started && a.state !== 2 /* STARTED */) return [];
    const details = defaultPayloadConverter.fromPayload<ShardHeartbeat>(payload);
    return [{ identity: a.lastWorkerIdentity, details }];
  });
}

/**
 * Polls (every 50 ms, up to 120 s) until a pending shard's heartbeat meets `predicate`; returns it.
 * Throws `failure` when none did.
 */
export async function waitForShard(
  handle: WorkflowHandle,
  predicate: (details: ShardHeartbeat, identity: string) => boolean,
  failure: string,
  options: PendingShardOptions = {},
): Promise<PendingShard> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const found = (await pendingShards(handle, options)).find((p) => predicate(p.details, p.identity));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(failure);
}

/** Every trainShard input the workflow scheduled, in history order. */
export async function shardInputs(handle: WorkflowHandle): Promise<TrainShardInput[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? [])
    .map((e) => e.activityTaskScheduledEventAttributes)
    .filter((a) => a?.activityType?.name === 'trainShard')
    .map((a) => defaultPayloadConverter.fromPayload<TrainShardInput>(a!.input!.payloads![0]!));
}
