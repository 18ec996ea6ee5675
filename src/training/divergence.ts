/**
 * Divergence detection in the trainer (README: Divergence rollback). After every trained step the
 * session hands the loss to a `DivergenceDetector`: a NaN or infinite loss, or a loss above `factor` ×
 * the median of the last `window` losses, ends the attempt with `DivergedError` naming the step. The
 * workflow then rolls back to an older checkpoint and skips the data window around the step. The
 * window of recent losses is part of the training state, so a run resumed after a crash makes the same
 * decisions as one never interrupted.
 */
import type { FailureKind } from '../failure-kind';
import type { Divergence, SkipWindow, TrainingSpec } from '../spec';
import { TrainingEngineError } from './errors';

export type DivergencePolicy = NonNullable<TrainingSpec['divergence']>;
export type { Divergence, SkipWindow };

/** The loss of a step diverged: the attempt ends here and the workflow rolls back. */
export class DivergedError extends TrainingEngineError {
  /** Not retried as is (the same step would diverge again): the workflow's rollback handles it. */
  static readonly failureKind: FailureKind = 'transient';
  constructor(readonly divergence: Divergence) {
    super(
      `training diverged at epoch ${divergence.epoch} batch ${divergence.batch} (step ${divergence.step}): ` +
        divergence.reason,
    );
  }
}

/** The failure type the workflow sees for a divergence (src/contract/failures.ts names it too). */
const DIVERGED = 'DivergedError';

/** The divergence an error carries: the trainer's own error, or one that crossed the process boundary. */
export function divergenceOf(err: unknown): Divergence | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof DivergedError) return e.divergence;
    const remote = (e as { remoteName?: string; remoteData?: { divergence?: Divergence } }).remoteData;
    if ((e as { remoteName?: string }).remoteName === DIVERGED && remote?.divergence)
      return remote.divergence;
  }
  return undefined;
}

export class DivergenceDetector {
  private losses: number[];

  constructor(
    private readonly policy: DivergencePolicy,
    window: number[] = [],
  ) {
    this.losses = [...window];
  }

  /** Recent finite losses, oldest first: saved in checkpoints and restored with them. */
  get window(): number[] {
    return [...this.losses];
  }

  /** Throws `DivergedError` when this step's loss says the run diverged; else remembers it. */
  check(loss: number, at: { epoch: number; batch: number; step: number }): void {
    if (!Number.isFinite(loss)) {
      if (this.policy.onNonFinite) throw new DivergedError({ ...at, loss, reason: `loss is ${loss}` });
      return; // not a spike either: a non-finite loss says nothing about the median
    }
    const spike = this.policy.spike;
    if (!spike) return;
    if (this.losses.length >= spike.window) {
      const median = medianOf(this.losses);
      if (loss > spike.factor * median) {
        throw new DivergedError({
          ...at,
          loss,
          reason: `loss ${loss.toPrecision(4)} is over ${spike.factor} × ${median.toPrecision(4)}, the median of the last ${spike.window} steps`,
        });
      }
    }
    this.losses.push(loss);
    if (this.losses.length > spike.window) this.losses.shift();
  }
}

/** Whether the batch at this cursor is in a window a rollback skips. */
export function isSkipped(skips: readonly SkipWindow[] | undefined, epoch: number, batch: number): boolean {
  return (skips ?? []).some((w) => w.epoch === epoch && batch >= w.fromBatch && batch <= w.toBatch);
}

function medianOf(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}
