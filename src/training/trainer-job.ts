/** One run in a trainer child, seen from the parent: progress, snapshots, stop and the result. */
import type { TrainingState } from '../state';
import { finalizeState } from './capture';
import { TrainerRemoteError } from './errors';
import type { TrainerEvent, TrainerRequest } from './protocol';
import type { BatchProgress, EpochEnd, RunOutcome } from './run-loop';
import type { PortableState } from './state-transfer';
import { unpackState } from './state-transfer';

interface Handlers {
  onProgress?(progress: BatchProgress): void;
  onEpochEnd?(end: EpochEnd): void;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: Error): void;
}

export class TrainerJob {
  /** Settles when the run reaches `untilEpoch`, stops on request, fails, or the child dies. */
  readonly result: Promise<RunOutcome>;
  private settle!: Pending<RunOutcome>;
  private readonly snapshots = new Map<number, Pending<TrainingState>>();
  private nextRequestId = 1;
  private settled = false;
  /** States arrive through files read asynchronously; this keeps their events in order. */
  private stateEvents: Promise<void> = Promise.resolve();

  constructor(
    readonly jobId: number,
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
    this.send({ type: 'snapshot', jobId: this.jobId, requestId });
    return promise;
  }

  /** Stops at the next batch boundary; the outcome's state is where training stopped. */
  stop(): Promise<RunOutcome> {
    if (!this.settled) this.send({ type: 'stop', jobId: this.jobId });
    return this.result;
  }

  /** Routes one event from the child. */
  handle(event: TrainerEvent): void {
    if (!('jobId' in event) || event.jobId !== this.jobId) return;
    try {
      this.route(event);
    } catch (error) {
      // A throwing handler ends the run rather than the host process.
      this.send({ type: 'stop', jobId: this.jobId });
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
        const { type: _t, jobId: _r, ...progress } = event;
        return this.handlers.onProgress?.(progress);
      }
      case 'snapshot':
        return this.withState(event.state, (state) => {
          this.snapshots.get(event.requestId)?.resolve(state);
          this.snapshots.delete(event.requestId);
        });
      case 'epoch-end':
        return this.withState(event.state, (state) =>
          this.handlers.onEpochEnd?.({ epoch: event.epoch, metrics: event.metrics, state }),
        );
      case 'done':
        return this.withState(event.state, (state) => this.finish({ stopped: event.stopped, state }));
      case 'error':
        return this.fail(
          new TrainerRemoteError(
            event.error.name,
            event.error.message,
            event.error.stack,
            event.error.failureKind,
            event.error.data,
          ),
        );
    }
  }

  /** Runs `use` with the finalized state once it is in memory, after earlier state events. */
  private withState(portable: PortableState, use: (state: TrainingState) => void): void {
    this.stateEvents = this.stateEvents
      .then(async () => use(finalizeState(await unpackState(portable))))
      .catch((error: unknown) => {
        this.send({ type: 'stop', jobId: this.jobId });
        this.fail(error as Error);
      });
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
