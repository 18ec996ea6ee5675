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

  /** A batch was trained: `cursor` is the step cursor after it. */
  progress(cursor: number): void {
    const at = this.now();
    this.firstStepAt ??= at;
    this.lastProgressAt = at;
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
      queueMs: Math.max(0, this.startedAt - this.scheduledAt),
      startupMs: Math.max(0, firstStep - this.startedAt),
      trainMs: Math.max(0, (this.lastProgressAt ?? firstStep) - firstStep),
      stallMs: this.stalledMs,
      at,
    };
  }
}
