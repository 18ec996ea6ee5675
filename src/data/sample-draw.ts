/**
 * The random numbers a streamed task's `transform` may use for augmentation: one seeded stream per
 * (run seed, data epoch, dataset row), so a row is augmented the same way whichever worker or
 * data-parallel shard reads it, and a run resumed at any sample draws what an uninterrupted one
 * would. The stream is made on the first `random()` call: rows that draw nothing cost nothing.
 */
import seedrandom from 'seedrandom';

/** What `transform` gets for a training row (absent for validation rows: never augment those). */
export interface SampleDraw {
  /** The data epoch the row is read in. */
  readonly epoch: number;
  /** The row's index in the dataset (its stored order), the same in every worker and shard. */
  readonly row: number;
  /** A number in [0, 1) from this row's own seeded stream (seedrandom's alea). */
  random(): number;
}

export function sampleDraw(seed: number, epoch: number, row: number): SampleDraw {
  let stream: (() => number) | undefined;
  return {
    epoch,
    row,
    random() {
      stream ??= seedrandom.alea(`dfit:sample:${seed}:${epoch}:${row}`);
      return stream();
    },
  };
}
