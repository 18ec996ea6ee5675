/**
 * What one epoch or shard attempt measures about itself for the run's goodput ledger (the workflow
 * adds it up, workflows/goodput.ts): the step it started from and the furthest it trained, the wait
 * for a worker, the start-up before its first batch, training time, and time lost to checkpoints.
 */
import type { AttemptTiming } from '../src/contract';

export class AttemptClock {
  private readonly startedAt: number;
  private firstStepAt: number | undefined;
  private lastProgressAt: number | undefined;
  private stalledMs = 0;
  private reached: number;

  /** `scheduledAt`: when the server scheduled this attempt (`currentAttemptScheduledTimestampMs`). */
  constructor(
    private readonly fromStep: number,
    private readonly scheduledAt: number,
    private readonly now: () => number = Date.now,
  ) {
    this.startedAt = now();
    this.reached = fromStep;
  }

  /**
   * A batch was trained: `cursor` is the step cursor after it, `trainedAt` when the trainer finished
   * it (its clock). A warm trainer trains the next epoch ahead, before this attempt even starts: those
   * batches count as training, not as queue wait or start-up.
   */
  progress(cursor: number, trainedAt?: number): void {
    const at = trainedAt ?? this.now();
    this.firstStepAt = Math.min(this.firstStepAt ?? at, at);
    this.lastProgressAt = Math.max(this.lastProgressAt ?? at, at);
    this.reached = Math.max(this.reached, cursor);
  }

  /** A durable checkpoint at `step` shows the attempt got at least that far (reports lag the trainer). */
  reachedAtLeast(step: number): void {
    this.reached = Math.max(this.reached, step);
  }

  /** Times `work`, which training waits on (a state capture, the epoch-end save), as checkpoint stall. */
  async stall<T>(work: Promise<T>): Promise<T> {
    const started = this.now();
    try {
      return await work;
    } finally {
      this.stalledMs += this.now() - started;
    }
  }

  timing(): AttemptTiming {
    const at = this.now();
    const firstStep = this.firstStepAt ?? at;
    return {
      fromStep: this.fromStep,
      reachedStep: this.reached,
      // Waiting for a worker, unless the trainer was already training this epoch ahead meanwhile.
      queueMs: Math.max(0, Math.min(this.startedAt, firstStep) - this.scheduledAt),
      startupMs: Math.max(0, firstStep - this.startedAt),
      trainMs: Math.max(0, (this.lastProgressAt ?? firstStep) - firstStep),
      stallMs: this.stalledMs,
      at,
    };
  }
}
