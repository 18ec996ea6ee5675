/**
 * What one training attempt (an epoch, or a shard's round: activities/attempt.ts runs both) reports
 * while it runs, computed from numbers the attempt already has:
 * steps and steps/s from batch progress, the loss, the lag since its last heartbeat (on a timer),
 * and at the end the epoch's wall time. A resumed attempt counts once as a recovery of its kind
 * (crash, preemption, infrastructure, fallback; `retry` for a retried attempt), a resume after a
 * pause does not.
 */
import type { MetricsRecorder } from './recorder';

/** Steps/s is the rate over windows of at least this long, so 50 ms progress ticks do not jitter it. */
const RATE_WINDOW_MS = 1000;
/** How often the heartbeat lag gauge is refreshed between heartbeats. */
const LAG_TICK_MS = 500;

export interface EpochMeterOptions {
  /** The step count the attempt starts from (its checkpoint's cursor; 0 for a fresh run). */
  startStep: number;
  /** The recovery kind when this attempt resumes after a failure or pause (`resumeEpoch`). */
  recoveryKind?: string;
  /** The activity attempt: attempts after the first are retries of a failed one. @default 1 */
  attempt?: number;
  /** Steps the failure before this attempt lost, trained again now (`dfit_steps_redone_total{kind}`). */
  stepsRedone?: number;
  /** The run's goodput so far, as the workflow sent it (`dfit_goodput_ratio`). */
  goodput?: number;
  /** @default Date.now */
  now?: () => number;
}

export class EpochMeter {
  private steps: number;
  /** Starts at the first progress message: start-up (download, trainer start) is not training. */
  private window: { at: number; steps: number } | undefined;
  private lastBeat: number;
  private readonly lagTimer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly metrics: MetricsRecorder,
    options: EpochMeterOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.steps = options.startStep;
    this.lastBeat = this.now();
    // A resume after a pause is not a recovery (the workflow does not record it as one either).
    if (options.recoveryKind && options.recoveryKind !== 'pause') metrics.countRecovery(options.recoveryKind);
    else if (!options.recoveryKind && (options.attempt ?? 1) > 1) metrics.countRecovery('retry');
    if (options.recoveryKind && options.stepsRedone)
      metrics.addStepsRedone(options.recoveryKind, options.stepsRedone);
    if (options.goodput !== undefined) metrics.setGoodput(options.goodput);
    this.lagTimer = setInterval(() => this.reportLag(), LAG_TICK_MS);
    this.lagTimer.unref();
  }

  /** A progress message: `steps` is the count of steps trained so far (the cursor after the batch). */
  progress(steps: number, loss: number): void {
    if (steps > this.steps) this.metrics.addSteps(steps - this.steps);
    this.steps = Math.max(this.steps, steps);
    this.metrics.setLoss(loss);
    const at = this.now();
    if (!this.window) this.window = { at, steps: this.steps };
    else if (at - this.window.at >= RATE_WINDOW_MS) {
      this.metrics.setStepsPerSecond(((this.steps - this.window.steps) * 1000) / (at - this.window.at));
      this.window = { at, steps: this.steps };
    }
  }

  /** Called just before each heartbeat: the gauge shows the gap that this heartbeat ends. */
  heartbeat(): void {
    this.reportLag();
    this.lastBeat = this.now();
  }

  /** The epoch (a shard: its round) finished, not stopped or failed: its wall time goes into the histogram. */
  finished(durationMs: number): void {
    this.metrics.observeEpochSeconds(durationMs / 1000);
  }

  /** The attempt is over, however it ended: nothing trains and no heartbeat is owed any more. */
  close(): void {
    clearInterval(this.lagTimer);
    this.metrics.setHeartbeatLag(0);
    this.metrics.setStepsPerSecond(0);
  }

  private reportLag(): void {
    this.metrics.setHeartbeatLag((this.now() - this.lastBeat) / 1000);
  }
}
