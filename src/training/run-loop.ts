/**
 * The epoch loop: trains batch after batch, reports progress, answers snapshot requests and stops
 * cooperatively at a batch boundary. It yields to the event loop every few milliseconds so a host
 * (the trainer process, or a test) can deliver stop/snapshot requests while training runs.
 */
import type { EpochMetrics, TrainingState } from '../state';
import type { SpecExtras } from './capture';
import { captureRawState } from './capture';
import type { TrainingSession } from './session';

/** Progress after one trained batch. */
export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  /**
   * When the batch finished training (epoch ms, the trainer's clock). A warm trainer's adopted
   * continuation reports batches it trained before the run began (trainer-continuation.ts).
   */
  trainedAt?: number;
}

/** An epoch that just finished, with the state at its end (phase-1 capture: no hash yet). */
export interface EpochEnd {
  epoch: number;
  metrics: EpochMetrics;
  state: TrainingState;
}

/** How a run ended: at `untilEpoch`, or stopped on request; `state` is a phase-1 capture. */
export interface RunOutcome {
  stopped: boolean;
  state: TrainingState;
}

/** Requests from outside the loop, taken at the next batch boundary. */
export class RunControl {
  stopRequested = false;
  private snapshotWaiters: ((state: TrainingState) => void)[] = [];

  requestStop(): void {
    this.stopRequested = true;
  }

  /** A phase-1 state captured at the next batch boundary. */
  requestSnapshot(): Promise<TrainingState> {
    return new Promise((resolve) => this.snapshotWaiters.push(resolve));
  }

  /** Called by the loop at a batch boundary. */
  serveSnapshots(capture: () => TrainingState): void {
    if (this.snapshotWaiters.length === 0) return;
    const state = capture();
    const waiters = this.snapshotWaiters;
    this.snapshotWaiters = [];
    waiters.forEach((resolve) => resolve(state));
  }
}

export interface RunLoopOptions {
  /** Stop after this epoch count is reached (exclusive). @default config.epochs */
  untilEpoch?: number;
  control?: RunControl;
  /** Stop (as if requested) when the cursor reaches this step count: a deterministic interruption. */
  stopAtStep?: number;
  onProgress?(progress: BatchProgress): void;
  onEpochEnd?(end: EpochEnd): void;
  /** Recorded in each captured state's `meta.spec`. */
  specExtras?: SpecExtras;
  /** Longest stretch of training without yielding to the event loop. @default 10 */
  yieldEveryMs?: number;
}

/** Runs the session from its cursor until `untilEpoch` or a stop request. */
export async function runSession(
  session: TrainingSession,
  options: RunLoopOptions = {},
): Promise<RunOutcome> {
  const until = Math.min(options.untilEpoch ?? session.parts.config.epochs, session.parts.config.epochs);
  const control = options.control ?? new RunControl();
  const capture = () => captureRawState(session, options.specExtras);
  const yieldEveryMs = options.yieldEveryMs ?? 10;
  let lastYield = performance.now();
  let lastEpochState: TrainingState | undefined;
  while (session.cursor.epoch < until) {
    if (performance.now() - lastYield >= yieldEveryMs) {
      await new Promise((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
    control.serveSnapshots(capture);
    if (control.stopRequested || session.cursor.step === options.stopAtStep)
      return { stopped: true, state: capture() };
    if (session.parts.stream) await session.prepareBatch();
    const result = session.step();
    lastEpochState = undefined;
    const { epoch, batch, step, batchesPerEpoch } = {
      ...session.cursor,
      ...result,
      step: session.cursor.step,
    };
    options.onProgress?.({
      epoch,
      batch,
      batches: batchesPerEpoch,
      step,
      loss: result.loss,
      trainedAt: Date.now(),
    });
    if (result.epochEnd) {
      lastEpochState = capture();
      options.onEpochEnd?.({ epoch, metrics: result.epochEnd, state: lastEpochState });
    }
  }
  control.serveSnapshots(capture);
  return { stopped: false, state: lastEpochState ?? capture() };
}
