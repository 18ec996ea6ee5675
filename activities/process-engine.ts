/**
 * The production `EpochEngine`: training runs in trainer child processes, so CPU-bound tfjs never
 * blocks the worker's event loop (heartbeats keep flowing) and an engine crash is reported, not
 * silent. One trainer per slot (`slots`, the worker's concurrency), so N epochs train at once.
 * Each process stays warm between epochs (backend loaded, datasets cached); the epoch-end state a
 * slot just produced is kept in memory, so the next epoch from that checkpoint skips the download
 * and decode (the workflow's SHA-256 must match the one this worker wrote).
 */
import { decodeCheckpoint } from '../src/checkpoint/format';
import type { TrainingState } from '../src/state';
import type { EpochEngine, EpochJob, EpochOutcome, EpochRequest } from './epoch-engine';
import type { TrainerSlot, TrainerSlotsOptions } from './trainer-slots';
import { TrainerSlots } from './trainer-slots';

export type ProcessEngineOptions = TrainerSlotsOptions;

export function createProcessEngine(options: ProcessEngineOptions = {}): EpochEngine {
  const slots = new TrainerSlots(options);
  return {
    async backend() {
      return (await slots.backend()).name;
    },
    backendInfo: () => slots.backend(),
    isWarm: (sha256: string) => slots.warmState(sha256) !== undefined,
    async start(request: EpochRequest): Promise<EpochJob> {
      const slot = slots.acquire(request.from?.sha256);
      try {
        return await startOnSlot(slots, slot, request);
      } catch (err) {
        slots.release(slot);
        throw err;
      }
    },
    close: () => slots.close(),
  };
}

async function startOnSlot(slots: TrainerSlots, slot: TrainerSlot, request: EpochRequest): Promise<EpochJob> {
  const trainer = await slots.trainerOf(slot);
  // The slot keeps its warm state until this job ends: another epoch that saw `isWarm` may still
  // take it (states are parent-side copies, never changed by a run).
  const from = startState(request, slots);
  const run = trainer.run(
    {
      config: request.config,
      ...(from ? { from } : {}),
      ...(request.initWeights && !from ? { initWeights: decodeCheckpoint(request.initWeights) } : {}),
      untilEpoch: request.epoch + 1,
      allowBackendChange: request.allowBackendChange,
      specExtras: request.specExtras,
      // One progress message per 50 ms, not per batch: IPC off the hot path; heartbeats are
      // throttled to a second anyway. The epoch's last batch is always reported.
      progressIntervalMs: 50,
    },
    { onProgress: (p) => request.onProgress(p) },
  );
  let endState: TrainingState | undefined;
  const done: Promise<EpochOutcome> = run.result
    .then(
      (outcome) => {
        endState = outcome.state;
        slot.warm = { state: outcome.state };
        const metrics = outcome.state.meta.metrics.find((m) => m.epoch === request.epoch);
        return { stopped: outcome.stopped, state: outcome.state, ...(outcome.stopped ? {} : { metrics }) };
      },
      // A TrainerRemoteError keeps its remote class name and permanence; activities/boundary.ts
      // turns it into the failure the workflow sees.
      (err: unknown) => Promise.reject(err as Error),
    )
    .finally(() => slots.release(slot));
  return {
    snapshot: () => run.snapshot(),
    stop: () => void run.stop().catch(() => undefined),
    done,
    markWarm(sha256: string) {
      // Only while the slot still holds this job's end state (another epoch may have taken it since).
      if (endState && slot.warm?.state === endState) slot.warm.sha256 = sha256;
    },
  };
}

function startState(request: EpochRequest, slots: TrainerSlots): TrainingState | undefined {
  if (!request.from) return undefined;
  if (request.from.bytes) return decodeCheckpoint(request.from.bytes);
  const warm = slots.warmState(request.from.sha256);
  if (warm) return warm;
  throw new Error('checkpoint bytes are needed: this worker does not hold that checkpoint warm');
}
