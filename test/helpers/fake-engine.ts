/**
 * A fake epoch engine for the activity unit tests (activities in `MockActivityEnvironment`, no
 * trainer): it trains one batch per `step()` of the test, or on its own when `auto`, reports each
 * as progress, and ends the job at the epoch's (a shard's: the round's) last batch or where `stop()`
 * finds it, as the trainer does at a batch boundary. Its states are `fakeState`'s.
 */
import type { EpochEngine, EpochJob, EpochOutcome, EpochRequest } from '../../activities/epoch-engine';
import type { TrainingState } from '../../src/state';
import { sampleState } from './checkpoint-fixtures';

/** The state after `step` steps of `batches` an epoch (an epoch end is the next epoch's batch 0). */
export function fakeState(step: number, batches: number): TrainingState {
  return sampleState({
    cursor: { epoch: Math.floor(step / batches), batch: step % batches, step, batchesPerEpoch: batches },
    weightsSha256: String(step % 10).repeat(64),
  });
}

export interface FakeEngineOptions {
  /** Batches an epoch (a shard: steps a round). */
  batches: number;
  /** The epoch (round) the job trains. @default 0 */
  epoch?: number;
  /** The step the job starts from. @default 0 */
  from?: number;
  /** Trains every batch on its own, one per turn of the event loop. */
  auto?: boolean;
  /** The job fails with this once started. */
  fail?: Error;
  /** `start` answers only once `begin()` is called. */
  held?: boolean;
  /** The loss in the finished epoch's metrics. @default 0.5 */
  loss?: number;
}

export function fakeEngine(options: FakeEngineOptions) {
  const { batches, epoch = 0, from = 0, loss = 0.5 } = options;
  let at = from;
  let begin!: () => void;
  const begun = options.held ? new Promise<void>((r) => (begin = r)) : Promise.resolve();
  let stopped = false;
  let finish!: (outcome: EpochOutcome) => void;
  let fail!: (err: Error) => void;
  let request: EpochRequest | undefined;
  const done = new Promise<EpochOutcome>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const end = (epoch + 1) * batches;
  const stateAt = (step: number) => fakeState(step, batches);
  const step = () => {
    at++;
    request?.onProgress({ epoch, batch: (at - 1) % batches, batches, step: at, loss: 1 / at });
    if (at === end) finish({ stopped: false, state: stateAt(at), metrics: { epoch, loss } });
  };
  const engine: EpochEngine = {
    backend: async () => 'fake',
    backendInfo: async () => ({ name: 'fake', versions: {} }),
    isWarm: () => false,
    close: async () => {},
    async start(r: EpochRequest): Promise<EpochJob> {
      request = r;
      await begun;
      if (options.fail) setImmediate(() => fail(options.fail as Error));
      else if (options.auto)
        setImmediate(function loop() {
          step();
          if (at < end) setImmediate(loop);
        });
      return {
        snapshot: async () => stateAt(at),
        stop: () => {
          stopped = true;
          finish({ stopped: true, state: stateAt(at) });
        },
        done,
        markWarm: () => {},
      };
    },
  };
  return {
    engine,
    step,
    fail: (err: Error) => fail(err),
    begin: () => begin(),
    started: () => request !== undefined,
    stopped: () => stopped,
  };
}
