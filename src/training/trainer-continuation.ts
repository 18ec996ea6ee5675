/**
 * The trainer child's warm session: when a run reaches its end epoch, its session stays in memory
 * and trains the next epoch at once, speculatively, while the parent uploads the epoch-end
 * checkpoint and the workflow decides what comes next. The next run adopts it (its batches are
 * already trained, see warm-session.ts for when) or discards it; nothing it trains leaves the
 * process unless a run adopted it.
 */
import type { SpecExtras } from './capture';
import type { BatchProgress, RunOutcome } from './run-loop';
import { RunControl, runSession } from './run-loop';
import type { TrainingSession } from './session';
import type { WarmKey } from './warm-session';

export class Continuation {
  readonly control = new RunControl();
  /** Settles at the end epoch, or at a stop (adopted run's stop, or a discard). */
  readonly outcome: Promise<RunOutcome>;
  key: WarmKey;
  private first: BatchProgress | undefined;
  private latest: BatchProgress | undefined;
  private sink: ((progress: BatchProgress) => void) | undefined;

  /** Starts training `session` from its cursor up to `untilEpoch` (the run `baseJobId` ended there). */
  constructor(
    readonly session: TrainingSession,
    readonly baseJobId: number,
    key: WarmKey,
    specExtras: SpecExtras,
  ) {
    this.key = key;
    this.outcome = runSession(session, {
      control: this.control,
      untilEpoch: key.untilEpoch,
      specExtras,
      onProgress: (p) => this.report(p),
    });
    this.outcome.catch(() => undefined); // an adopting run sees the error; a discard ignores it
  }

  /** The base state was saved as this checkpoint (the parent's word, after its upload). */
  markSaved(saved: { sha256: string; url: string }): void {
    this.key = { ...this.key, saved };
  }

  /**
   * A run takes the continuation over: `sink` gets the first and the latest batch trained so far
   * (stamped with when they were trained), then every batch. Resolves with the run's outcome.
   */
  adopt(sink: (progress: BatchProgress) => void): Promise<RunOutcome> {
    const trained = [this.first, this.latest].filter((p, i, all) => p && all.indexOf(p) === i);
    for (const p of trained) sink(p as BatchProgress);
    this.sink = sink;
    return this.outcome;
  }

  /** Stops at the next batch boundary and frees the session. */
  async discard(): Promise<void> {
    this.control.requestStop();
    await this.outcome.catch(() => undefined);
    this.session.dispose();
  }

  private report(progress: BatchProgress): void {
    if (this.sink) return this.sink(progress);
    this.first ??= progress;
    this.latest = progress;
  }
}
