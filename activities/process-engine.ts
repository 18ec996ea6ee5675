/**
 * The production `EpochEngine`: training runs in trainer child processes, so CPU-bound tfjs never
 * blocks the worker's event loop (heartbeats keep flowing) and an engine crash is reported, not
 * silent. One trainer per slot (`slots`, the worker's concurrency), so N epochs train at once.
 * Each process stays warm between epochs (backend loaded, datasets cached), and keeps its session:
 * once an epoch ends it trains the next one speculatively while the activity saves and the workflow
 * decides; a next epoch from exactly the checkpoint just saved (same SHA-256 and URL, same run)
 * adopts those batches, anything else discards them and restores from verified bytes
 * (src/training/warm-session.ts).
 */
import { decodeCheckpoint } from '../src/checkpoint/format';
import type { TrainingState } from '../src/state';
import type { EpochEngine, EpochJob, EpochOutcome, EpochRequest } from './epoch-engine';
import type { TrainerSlot, TrainerSlotsOptions } from './trainer-slots';
import { TrainerSlots } from './trainer-slots';
import { decideWarmStart } from '../src/training/warm-session';

export type ProcessEngineOptions = TrainerSlotsOptions;

export function createProcessEngine(options: ProcessEngineOptions = {}): EpochEngine {
  const slots = new TrainerSlots(options);
  return {
    async backend() {
      return (await slots.backend()).name;
    },
    backendInfo: () => slots.backend(),
    isWarm: (sha256: string) => slots.isWarm(sha256),
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
  const untilEpoch = request.epoch + 1;
  const held = slot.warm?.trainer === trainer ? slot.warm.key : undefined;
  const adopt = decideWarmStart(held, {
    config: request.config,
    specExtras: request.specExtras,
    allowBackendChange: request.allowBackendChange,
    untilEpoch,
    ...(request.from ? { from: { sha256: request.from.sha256, url: request.from.url } } : {}),
    initWeights: request.initWeights !== undefined,
  }).adopt;
  slot.warm = undefined; // this run adopts the child's continuation or the child discards it
  const from = adopt ? undefined : await startState(request);
  // A shard's next round starts from the merged global weights, never from its own end state:
  // training ahead would be thrown away.
  const speculate = !request.config.shard;
  const run = trainer.run(
    {
      config: request.config,
      ...(adopt && request.from
        ? { continueFrom: { sha256: request.from.sha256, url: request.from.url } }
        : {}),
      ...(from ? { from } : {}),
      ...(request.initWeights && !request.from ? { initWeights: decodeCheckpoint(request.initWeights) } : {}),
      untilEpoch,
      allowBackendChange: request.allowBackendChange,
      specExtras: request.specExtras,
      // One progress message per 50 ms, not per batch: IPC off the hot path; heartbeats are
      // throttled to a second anyway. The epoch's last batch is always reported.
      progressIntervalMs: 50,
      speculate,
    },
    { onProgress: (p) => request.onProgress(p) },
  );
  const done: Promise<EpochOutcome> = run.result
    .then(
      (outcome) => {
        const { cursor } = outcome.state.meta;
        // The child trains on from here (speculatively) unless the run stopped or ended.
        if (speculate && !outcome.stopped && cursor.epoch < request.config.epochs) {
          slot.warm = {
            trainer,
            jobId: run.jobId,
            key: {
              config: request.config,
              specExtras: request.specExtras,
              allowBackendChange: request.allowBackendChange,
              untilEpoch: cursor.epoch + 1,
            },
          };
        }
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
    began: adopt ? 'adopted' : request.from ? 'restored' : 'fresh',
    markWarm(saved) {
      // Only while the slot still holds this run's continuation (another epoch may have taken it since).
      const warm = slot.warm;
      if (warm?.jobId !== run.jobId || warm.trainer !== trainer) return;
      warm.key = { ...warm.key, saved: { sha256: saved.sha256, url: saved.url } };
      trainer.keep(run.jobId, saved);
    },
  };
}

/** The decoded starting state: the verified bytes given, or loaded (and verified) now. */
// Both come from the store, which verified the whole file (and with it the payload) on load.
async function startState(request: EpochRequest): Promise<TrainingState | undefined> {
  const { from } = request;
  if (!from) return undefined;
  const bytes = from.bytes ?? (await from.load?.());
  if (!bytes)
    throw new Error(`checkpoint bytes of ${from.url} are needed: this worker holds no warm session for it`);
  return decodeCheckpoint(bytes, from.url, true);
}
