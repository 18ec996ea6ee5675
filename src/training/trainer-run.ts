/** One run in a trainer child, seen from the parent: progress, snapshots, stop and the result. */
import type { TrainingState } from '../state';
import { finalizeState } from './capture';
import { TrainerRemoteError } from './errors';
import type { TrainerEvent, TrainerRequest } from './protocol';
import type { BatchProgress, EpochEnd, RunOutcome } from './run-loop';

interface Handlers {
  onProgress?(progress: BatchProgress): void;
  onEpochEnd?(end: EpochEnd): void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class TrainerRun {
  /** Settles when the run reaches `untilEpoch`, stops on request, fails, or the child dies. */
  readonly result: Promise<RunOutcome>;
  private settle!: Pending<RunOutcome>;
  private readonly snapshots = new Map<number, Pending<TrainingState>>();
  private nextRequestId = 1;
  private settled = false;

  constructor(
    readonly runId: number,
    private readonly handlers: Handlers,
    private readonly send: (message: TrainerRequest) => void,
    private readonly onSettled: () => void,
  ) {
    this.result = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // Callers may only await snapshot()/stop(); a failure must not become an unhandled rejection.
    this.result.catch(() => undefined);
  }

  /** The full state at the next batch boundary; training continues. */
  snapshot(): Promise<TrainingState> {
    if (this.settled) return Promise.reject(new Error('the run has ended; use its result state'));
    const requestId = this.nextRequestId++;
    const promise = new Promise<TrainingState>((resolve, reject) =>
      this.snapshots.set(requestId, { resolve, reject }),
    );
    this.send({ type: 'snapshot', runId: this.runId, requestId });
    return promise;
  }

  /** Stops at the next batch boundary; the outcome's state is where training stopped. */
  stop(): Promise<RunOutcome> {
    if (!this.settled) this.send({ type: 'stop', runId: this.runId });
    return this.result;
  }

  /** Routes one event from the child. */
  handle(event: TrainerEvent): void {
    if (!('runId' in event) || event.runId !== this.runId) return;
    try {
      this.route(event);
    } catch (error) {
      // A throwing handler ends the run rather than the host process.
      this.send({ type: 'stop', runId: this.runId });
      this.fail(error as Error);
    }
  }

  /** Ends the run with an error (child crashed, handler threw, or the engine failed). */
  fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.snapshots.forEach((p) => p.reject(error));
    this.snapshots.clear();
    this.onSettled();
    this.settle.reject(error);
  }

  private route(event: TrainerEvent): void {
    switch (event.type) {
      case 'progress': {
        const { type: _t, runId: _r, ...progress } = event;
        return this.handlers.onProgress?.(progress);
      }
      case 'snapshot':
        this.snapshots.get(event.requestId)?.resolve(finalizeState(event.state));
        this.snapshots.delete(event.requestId);
        return;
      case 'epoch-end':
        return this.handlers.onEpochEnd?.({
          epoch: event.epoch,
          metrics: event.metrics,
          state: finalizeState(event.state),
        });
      case 'done':
        return this.finish({ stopped: event.stopped, state: finalizeState(event.state) });
      case 'error':
        return this.fail(new TrainerRemoteError(event.error.name, event.error.message, event.error.stack));
    }
  }

  private finish(outcome: RunOutcome): void {
    if (this.settled) return;
    this.settled = true;
    this.snapshots.forEach((p) => p.resolve(outcome.state));
    this.snapshots.clear();
    this.onSettled();
    this.settle.resolve(outcome);
  }
}
