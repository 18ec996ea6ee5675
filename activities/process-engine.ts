/**
 * The production `EpochEngine`: training runs in a trainer child process, so CPU-bound tfjs never
 * blocks the worker's event loop (heartbeats keep flowing) and an engine crash is reported, not
 * silent. The process stays warm between epochs (backend loaded, datasets cached); the epoch-end
 * state it just produced is kept in memory, so the next epoch from that checkpoint skips the
 * download and decode (the workflow's SHA-256 must match the one this worker wrote).
 */
import { decodeCheckpoint } from '../src/checkpoint/format';
import type { TrainingState } from '../src/state';
import type { BackendRequest } from '../src/training/backend';
import { TrainerProcess } from '../src/training/trainer-client';
import type { EpochEngine, EpochJob, EpochOutcome, EpochRequest } from './epoch-engine';

export interface ProcessEngineOptions {
  /** @default 'auto' */
  backend?: BackendRequest;
  /** Modules that register user tasks, loaded in the trainer process too. @default [] */
  taskModules?: string[];
}

export function createProcessEngine(options: ProcessEngineOptions = {}): EpochEngine {
  let trainer: Promise<TrainerProcess> | undefined;
  let lastState: TrainingState | undefined;
  let warm: { sha256: string; state: TrainingState } | undefined;

  const getTrainer = async (): Promise<TrainerProcess> => {
    const current = trainer && (await trainer.catch(() => undefined));
    if (!current || !current.alive) {
      trainer = TrainerProcess.start({
        backend: options.backend ?? 'auto',
        taskModules: options.taskModules ?? [],
      });
    }
    return trainer as Promise<TrainerProcess>;
  };
  const isWarm = (sha256: string) => warm?.sha256 === sha256;

  return {
    async backend() {
      return (await getTrainer()).backend.name;
    },
    isWarm,
    markWarm(sha256: string) {
      if (lastState) warm = { sha256, state: lastState };
    },
    async start(request: EpochRequest): Promise<EpochJob> {
      const process = await getTrainer();
      const from = startState(request, warm);
      warm = undefined;
      lastState = undefined;
      const run = process.run(
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
      const done: Promise<EpochOutcome> = run.result.then(
        (outcome) => {
          lastState = outcome.state;
          const metrics = outcome.state.meta.metrics.find((m) => m.epoch === request.epoch);
          return { stopped: outcome.stopped, state: outcome.state, ...(outcome.stopped ? {} : { metrics }) };
        },
        // A TrainerRemoteError keeps its remote class name and permanence; activities/boundary.ts
        // turns it into the failure the workflow sees.
        (err: unknown) => Promise.reject(err as Error),
      );
      return { snapshot: () => run.snapshot(), stop: () => void run.stop().catch(() => undefined), done };
    },
    async close() {
      const current = trainer && (await trainer.catch(() => undefined));
      await current?.close();
      trainer = undefined;
    },
  };
}

function startState(request: EpochRequest, warm: { sha256: string; state: TrainingState } | undefined) {
  if (!request.from) return undefined;
  if (request.from.bytes) return decodeCheckpoint(request.from.bytes);
  if (warm && warm.sha256 === request.from.sha256) return warm.state;
  throw new Error('checkpoint bytes are needed: this worker does not hold that checkpoint warm');
}
