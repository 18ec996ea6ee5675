/**
 * Saves checkpoints for the epoch activity: at most one upload in flight, and a checkpoint counts
 * (becomes `latest`, goes into heartbeats) only after its PUT succeeded.
 */
import { CheckpointExistsError } from '../src/checkpoint/errors';
import type { CheckpointStore } from '../src/checkpoint/store';
import type { TrainingState } from '../src/state';
import type { CheckpointRef } from './types';

export class CheckpointSaver {
  /** The newest durable checkpoint written by this saver (or given at start). */
  latest: CheckpointRef | undefined;
  private inFlight: Promise<CheckpointRef | undefined> | undefined;

  constructor(
    private readonly store: CheckpointStore,
    private readonly runName: string,
    start?: CheckpointRef,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.latest = start;
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Starts a background save unless one is in flight; resolves immediately. */
  saveInBackground(state: Promise<TrainingState>): void {
    if (this.inFlight) return;
    this.inFlight = state
      .then((s) => this.save(s))
      .catch((err: unknown) => {
        this.onError(err); // a failed intra-epoch save loses nothing: the previous one still counts
        return undefined;
      })
      .finally(() => (this.inFlight = undefined));
  }

  /** Waits for the upload in flight, if any. */
  async idle(): Promise<void> {
    await this.inFlight;
  }

  /** Saves now (after any upload in flight) and returns the durable reference. */
  async save(state: TrainingState): Promise<CheckpointRef> {
    const { cursor } = state.meta;
    let saved;
    try {
      saved = await this.store.save(this.runName, state);
    } catch (err) {
      if (!(err instanceof CheckpointExistsError)) throw err;
      saved = await this.adoptExisting(err.url, state);
    }
    const ref = { url: saved.url, sha256: saved.sha256, bytes: saved.bytes, ...pickCursor(cursor) };
    if (!this.latest || ref.step >= this.latest.step) this.latest = ref;
    return ref;
  }

  /**
   * The key exists: an earlier attempt of this same deterministic run reached the same batch and
   * saved before it died. Keys are never overwritten; if that object holds the same weights at the
   * same cursor, it is this checkpoint, and we use it.
   */
  private async adoptExisting(url: string, state: TrainingState) {
    const stat = await this.store.stat(url);
    const existing = await this.store.load(url, { sha256: stat.sha256 });
    const same =
      existing.meta.weightsSha256 === state.meta.weightsSha256 &&
      existing.meta.cursor.step === state.meta.cursor.step &&
      existing.meta.rng !== undefined &&
      JSON.stringify(existing.meta.rng) === JSON.stringify(state.meta.rng);
    if (!same || !stat.sha256) throw new CheckpointExistsError(url);
    return { url, key: stat.key, sha256: stat.sha256, bytes: stat.bytes };
  }
}

function pickCursor(cursor: TrainingState['meta']['cursor']) {
  return { epoch: cursor.epoch, batch: cursor.batch, step: cursor.step };
}
