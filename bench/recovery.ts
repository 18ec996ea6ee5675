/**
 * Recovery: real `durable-fit worker` processes, one run per heartbeat timeout. Each sample kills
 * the worker running the epoch right after a heartbeat reached the server (the worst case: the
 * server notices one full heartbeat timeout later), then times until the resumed epoch trained its
 * first batch on the other worker, and counts the batches lost (trained before the kill, but after
 * the checkpoint the run resumed from). SIGTERM samples time a graceful preemption the same way.
 * Each sample is also broken into phases from the run's history (see phases.ts).
 */
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { HeartbeatDetails } from '../src/contract';
import { progressQuery } from '../src/contract';
import type { BenchStack } from './bench-stack';
import type { Phase, RecoveryMoments } from './phases';
import { RECOVERY_PHASES, recoveryPhases, summarizePhases } from './phases';
import { benchQueue } from './bench-stack';
import type { Summary } from './stats';
import { pollFor, sleep, summarize } from './stats';
import type { WorkerFleet } from '../test/helpers/worker-fleet';

export interface RecoveryBenchOptions {
  backend: string;
  heartbeatTimeoutsS: number[];
  kills: number;
  sigterms: number;
  /** Intra-epoch checkpoint interval in batches. */
  everyBatches: number;
  /** Model and data (synthetic); defaults to a 64 → 512 → 10 model. */
  hparams?: Record<string, unknown>;
  log(line: string): void;
}

export interface RecoverySample {
  signal: 'SIGKILL' | 'SIGTERM';
  heartbeatTimeoutS: number;
  /** Signal → first batch trained by the resumed epoch, in seconds. */
  recoveryS: number;
  lostBatches: number;
  /** Per phase (RECOVERY_PHASES), ms; absent where history lacked a moment. */
  phasesMs?: number[];
  /** The signalled worker had not exited 10 s later (it was then SIGKILLed). */
  hungAfterSignal: boolean;
}

export interface RecoveryRow {
  signal: 'SIGKILL' | 'SIGTERM';
  heartbeatTimeoutS: number;
  recoveryS: Summary;
  /** recovery − heartbeat timeout (SIGKILL only). */
  overHeartbeatS: Summary;
  lostBatches: Summary;
  everyBatches: number;
  checkpointBytes?: number;
  phases: Phase[];
  /** Samples whose signalled worker had not exited 10 s after the signal. */
  hungAfterSignal: number;
}

interface Observed {
  identity: string;
  type: string;
  heartbeatMs: number;
  details?: HeartbeatDetails;
  scheduledMs?: number;
  startedMs?: number;
}

const EXIT_GRACE_MS = 10_000;
const HPARAMS = { samples: 32 * 2000, features: 64, hidden: 512, classes: 10, valSamples: 256 };

export async function runRecoveryBench(
  stack: BenchStack,
  options: RecoveryBenchOptions,
): Promise<RecoveryRow[]> {
  const fleet = stack.fleet('recovery', options.backend);
  await Promise.all([fleet.start(), fleet.start()]);
  const rows: RecoveryRow[] = [];
  try {
    for (const [i, timeout] of options.heartbeatTimeoutsS.entries()) {
      const handle = await stack.startRun(
        benchQueue('recovery'),
        `bench-recovery-${timeout}s-${Date.now()}`,
        {
          task: 'synthetic',
          epochs: 1000,
          seed: 1,
          batchSize: 32,
          hparams: options.hparams ?? HPARAMS,
          checkpoint: { everyBatches: options.everyBatches, everySeconds: 0 },
          recovery: {
            heartbeatTimeoutSeconds: timeout,
            backoffSeconds: 0,
            maxCrashRecoveries: 1000,
            maxPreemptions: 1000,
          },
        },
      );
      const samples: RecoverySample[] = [];
      for (let k = 0; k < options.kills; k++)
        samples.push(await crashOnce(fleet, handle, 'SIGKILL', timeout));
      if (i === 0)
        for (let k = 0; k < options.sigterms; k++)
          samples.push(await crashOnce(fleet, handle, 'SIGTERM', timeout));
      const bytes = await lastCheckpointBytes(handle);
      await handle.terminate('benchmark done');
      options.log(
        `recovery: heartbeat ${timeout}s: ${samples.map((s) => `${s.signal} ${s.recoveryS.toFixed(2)}s lost ${s.lostBatches}`).join(', ')}`,
      );
      for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
        const mine = samples.filter((s) => s.signal === signal);
        if (mine.length === 0) continue;
        rows.push({
          signal,
          heartbeatTimeoutS: timeout,
          recoveryS: summarize(mine.map((s) => s.recoveryS)),
          overHeartbeatS: summarize(signal === 'SIGKILL' ? mine.map((s) => s.recoveryS - timeout) : []),
          lostBatches: summarize(mine.map((s) => s.lostBatches)),
          everyBatches: options.everyBatches,
          checkpointBytes: bytes,
          hungAfterSignal: mine.filter((s) => s.hungAfterSignal).length,
          phases: summarizePhases(
            RECOVERY_PHASES,
            mine.flatMap((s) => (s.phasesMs ? [s.phasesMs] : [])),
          ),
        });
      }
    }
  } finally {
    await fleet.stopAll();
  }
  return rows;
}

async function crashOnce(
  fleet: WorkerFleet,
  handle: WorkflowHandle,
  signal: 'SIGKILL' | 'SIGTERM',
  timeoutS: number,
): Promise<RecoverySample> {
  // A fresh heartbeat with an intra-epoch checkpoint in it, seen within ~50 ms of reaching the server.
  const first = await pollFor(() => observe(handle), 'a running epoch', 300_000);
  const victim = await pollFor(
    async () => {
      const now = await observe(handle);
      return now && now.heartbeatMs > first.heartbeatMs && now.details?.ckpt ? now : undefined;
    },
    'a fresh heartbeat',
    300_000,
    25,
  );
  const killedAt = Date.now();
  const exited = fleet.kill(victim.identity, signal);
  const resumed = await pollFor(
    async () => {
      const now = await observe(handle);
      return now && now.identity !== victim.identity && now.details ? now : undefined;
    },
    'the resumed epoch',
    300_000,
    25,
  );
  const seenAt = Date.now();
  const recoveryS = (seenAt - killedAt) / 1000;
  const moments: RecoveryMoments = {
    signalledAt: killedAt,
    firstBatchAt: seenAt,
    scheduledAt: resumed.scheduledMs,
    startedAt: resumed.startedMs,
  };
  const phasesMs = recoveryPhases((await handle.fetchHistory()).events ?? [], moments);
  // A worker that outlives its signal by 10 s is a bug to report, not a reason to hang the bench.
  const exitedInTime = await Promise.race([exited.then(() => true), sleep(EXIT_GRACE_MS).then(() => false)]);
  if (!exitedInTime) await fleet.kill(victim.identity, 'SIGKILL');
  await fleet.start(); // back to two workers before the next sample
  const d = victim.details as HeartbeatDetails;
  const victimStep = d.epoch * d.batches + d.batch;
  return {
    signal,
    heartbeatTimeoutS: timeoutS,
    recoveryS,
    // A SIGTERM checkpoints where training stopped, which can be past the last heartbeat: 0 lost.
    lostBatches: Math.max(0, victimStep - (resumed.details?.ckpt?.step ?? 0)),
    phasesMs,
    hungAfterSignal: !exitedInTime,
  };
}

/** The running epoch activity: who runs it, its last heartbeat and when the server got it. */
async function observe(handle: WorkflowHandle): Promise<Observed | undefined> {
  const description = await handle.describe();
  const pending = description.raw.pendingActivities?.find(
    (a) => /Epoch$/.test(a.activityType?.name ?? '') && a.state === 2 /* STARTED */ && a.lastWorkerIdentity,
  );
  if (!pending) return undefined;
  const payload = pending.heartbeatDetails?.payloads?.[0];
  return {
    identity: pending.lastWorkerIdentity ?? '',
    type: pending.activityType?.name ?? '',
    heartbeatMs: timestampMs(pending.lastHeartbeatTime) ?? 0,
    details: payload ? defaultPayloadConverter.fromPayload<HeartbeatDetails>(payload) : undefined,
    scheduledMs: timestampMs(pending.scheduledTime),
    startedMs: timestampMs(pending.lastStartedTime),
  };
}

type Timestamp = { seconds?: { toString(): string } | null; nanos?: number | null } | null | undefined;
const timestampMs = (t: Timestamp) =>
  t ? Number(t.seconds?.toString() ?? 0) * 1000 + (t.nanos ?? 0) / 1e6 : undefined;

/** Size of the run's newest checkpoint, from its progress query. */
async function lastCheckpointBytes(handle: WorkflowHandle): Promise<number | undefined> {
  try {
    return (await handle.query(progressQuery)).lastCheckpoint?.bytes;
  } catch {
    return undefined;
  }
}
