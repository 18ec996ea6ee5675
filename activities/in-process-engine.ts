/**
 * An `EpochEngine` that trains in this process. Training yields to the event loop every few
 * milliseconds, so heartbeats flow; the trainer process adapter isolates it fully.
 */
import { decodeCheckpoint } from '../src/checkpoint/format';
import { finalizeState } from '../src/training/capture';
import { RunControl, runSession } from '../src/training/run-loop';
import type { TrainingSession } from '../src/training/session';
import { Trainer } from '../src/training/trainer';
import { restoreModelWeights } from '../src/training/model-weights';
import type { BackendRequest } from '../src/training/backend';
import type { EpochEngine, EpochJob, EpochRequest } from './epoch-engine';

export function createInProcessEngine(options: { backend?: BackendRequest } = {}): EpochEngine {
  let trainer: Promise<Trainer> | undefined;
  let warm: { sha256: string; session: TrainingSession } | undefined;
  let last: TrainingSession | undefined;
  const getTrainer = () => (trainer ??= Trainer.create({ backend: options.backend }));
  const isWarm = (sha256: string) => warm !== undefined && warm.sha256 === sha256 && warm.session === last;

  return {
    async backend() {
      return (await getTrainer()).backend.name;
    },
    async backendInfo() {
      return (await getTrainer()).backend;
    },
    async start(request: EpochRequest): Promise<EpochJob> {
      const t = await getTrainer();
      let session: TrainingSession;
      if (request.from && !request.from.bytes && isWarm(request.from.sha256) && last) {
        session = last;
        session.parts.config.epochs = request.config.epochs;
      } else {
        last?.dispose();
        if (request.from && !request.from.bytes)
          throw new Error('checkpoint bytes are needed: the engine is not warm');
        const from = request.from?.bytes ? decodeCheckpoint(request.from.bytes) : undefined;
        session = t.open(request.config, from, { allowBackendChange: request.allowBackendChange });
        if (request.initWeights && !from) {
          const weights = decodeCheckpoint(request.initWeights).tensors;
          restoreModelWeights(session.parts.model, session.parts.weightNames, weights);
        }
      }
      warm = undefined;
      last = session;
      const control = new RunControl();
      const done = runSession(session, {
        untilEpoch: request.epoch + 1,
        control,
        specExtras: request.specExtras,
        onProgress: (p) => request.onProgress(p),
      }).then((outcome) => ({
        stopped: outcome.stopped,
        state: finalizeState(outcome.state),
        metrics: outcome.stopped ? undefined : session.metrics[session.metrics.length - 1],
      }));
      return {
        snapshot: async () => finalizeState(await control.requestSnapshot()),
        stop: () => control.requestStop(),
        done,
        markWarm(sha256: string) {
          // One session at a time here: only while it is still the engine's latest.
          if (last === session) warm = { sha256, session };
        },
      };
    },
    isWarm,
    async close() {
      last?.dispose();
      last = undefined;
      warm = undefined;
    },
  };
}
