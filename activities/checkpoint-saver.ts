/**
 * Saves the checkpoints of one training attempt, an epoch's or a shard's: at most one upload in
 * flight, and a checkpoint counts (becomes `latest`, goes into heartbeats) only after its PUT
 * succeeded. Where a checkpoint goes is the attempt's `CheckpointWriter` (an epoch's run folder keys,
 * or a shard's keys in its round's folder); everything else is this one saver.
 *
 * One rule for a save asked for while another is in flight: a save the checkpoint policy wants
 * (`saveInBackground`) is skipped — the policy asks again at a later batch, and a queue of policy
 * saves would only stall training behind the store — while a save someone asked for (checkpoint-now,
 * `requestSave`) is never dropped: it runs right after the one in flight, with the state of then.
 *
 * A background save that fails — refused, answered with errors, or past its S3 deadline (the store
 * hangs) — means every step trained from now on would be lost with the attempt: the saver refuses
 * further saves and tells its `onTrouble` listeners, which end the attempt at the next batch boundary
 * as an infrastructure failure carrying the newest durable checkpoint (at most one save interval is
 * trained again).
 */
import { CheckpointError, CheckpointExistsError, CheckpointKeyConflictError } from '../src/checkpoint/errors';
import type { CheckpointIO, SavedCheckpoint } from '../src/checkpoint/checkpoint-io';
import type { TrainingState } from '../src/state';
import type { CheckpointRef } from '../src/contract';
import { S3DeadlineError } from '../src/storage/deadline';

/** Checkpoints a saver remembers having written (a divergence names them: rollback targets). */
const SAVED_KEPT = 32;

/** The plain key and up to this many `-vN` versions are tried before a save gives up. */
export const MAX_KEY_VERSIONS = 8;

type Warn = (message: string, meta?: Record<string, unknown>) => void;

/** Writes one checkpoint, create-only, and returns its durable reference. */
export type CheckpointWriter = (state: TrainingState) => Promise<CheckpointRef>;

export class CheckpointSaver {
  /** The newest durable checkpoint written by this saver (or given at start). */
  latest: CheckpointRef | undefined;
  /** Set once a save of this saver went past its S3 deadline. */
  hung: S3DeadlineError | undefined;
  /** The first background save that failed (the store refused or hangs): no further saves start. */
  failed: Error | undefined;
  /** The checkpoints this saver wrote, oldest first (the last `SAVED_KEPT`): rollback targets. */
  readonly saved: CheckpointRef[] = [];
  private inFlight: Promise<CheckpointRef | undefined> | undefined;
  /** A requested save waiting for the one in flight. */
  private requested: (() => Promise<TrainingState>) | undefined;
  private readonly troubleListeners: ((err: Error) => void)[] = [];

  /** `onError`: hears every failed background save (a log line); `onTrouble` listeners hear the first. */
  constructor(
    private readonly write: CheckpointWriter,
    start?: CheckpointRef,
    private readonly onError: (err: unknown) => void = () => {},
  ) {
    this.latest = start;
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Calls `listener` once a background save failed or the store hangs (at once when it already did). */
  onTrouble(listener: (err: Error) => void): void {
    if (this.failed) listener(this.failed);
    else this.troubleListeners.push(listener);
  }

  /**
   * A save the checkpoint policy wants: starts a background save of `snapshot()` unless one is in
   * flight (then it is skipped) or a save failed; returns at once. The snapshot is taken only for a
   * save that starts, so none is left to reject unheard.
   */
  saveInBackground(snapshot: () => Promise<TrainingState>): void {
    if (this.inFlight || this.failed) return;
    let captured = false;
    this.inFlight = Promise.resolve()
      .then(snapshot)
      .then((s) => {
        captured = true;
        return this.save(s);
      })
      .catch((err: unknown) => {
        this.onError(err); // the previous checkpoint still counts
        // A snapshot that never came is the trainer's trouble (the job ends with its own error).
        if (captured) this.markFailed(err instanceof Error ? err : new Error(String(err)));
        return undefined;
      })
      .finally(() => {
        this.inFlight = undefined;
        const next = this.requested;
        this.requested = undefined;
        if (next) this.saveInBackground(next);
      });
  }

  /**
   * A save someone asked for (checkpoint-now): now, or right after the save in flight, of the state
   * then; never dropped while saves can still succeed. Requests made while one already waits are
   * served by that one.
   */
  requestSave(snapshot: () => Promise<TrainingState>): void {
    if (this.inFlight) this.requested = snapshot;
    else this.saveInBackground(snapshot);
  }

  /** Waits for the upload in flight and a requested one after it, if any. */
  async idle(): Promise<void> {
    while (this.inFlight) await this.inFlight;
  }

  /** Saves now and returns the durable reference; it becomes `latest` when it is the newest. */
  async save(state: TrainingState): Promise<CheckpointRef> {
    if (this.hung) throw this.hung; // another save would wait a whole deadline again
    const ref = await this.write(state).catch((err: unknown) => {
      const deadline = deadlineErrorIn(err);
      if (deadline) this.markHung(deadline);
      throw err;
    });
    if (!this.latest || ref.step >= this.latest.step) this.latest = ref;
    this.saved.push(ref);
    if (this.saved.length > SAVED_KEPT) this.saved.shift();
    return ref;
  }

  private markHung(err: S3DeadlineError): void {
    this.hung ??= err;
    this.markFailed(err);
  }

  private markFailed(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    for (const listener of this.troubleListeners.splice(0)) listener(err);
  }
}

/**
 * An epoch's checkpoints: `<run>/epoch=…-step=….ckpt` in the run's folder (the store's keys).
 * Keys are never overwritten. When a key is taken, an earlier attempt of this same deterministic
 * run may have reached the same batch and saved before it died: if that object holds the same
 * weights at the same cursor, it is this checkpoint and we use it. If it is corrupt or holds other
 * state, that is the key's fault, not the fault of the checkpoint this attempt started from: save
 * under the next version (`-v1`, `-v2`, …) and name the bad object in a warning.
 */
export function runFolderWriter(
  store: CheckpointIO,
  runName: string,
  warn: Warn = (message, meta) => console.warn(message, meta ?? ''),
): CheckpointWriter {
  return async (state) => {
    const saved = await saveAtFreeKey(store, runName, state, warn);
    return { url: saved.url, sha256: saved.sha256, bytes: saved.bytes, ...pickCursor(state.meta.cursor) };
  };
}

async function saveAtFreeKey(
  store: CheckpointIO,
  runName: string,
  state: TrainingState,
  warn: Warn,
): Promise<SavedCheckpoint> {
  let firstUrl = '';
  for (let version = 0; version <= MAX_KEY_VERSIONS; version++) {
    try {
      return await store.save(runName, state, { version });
    } catch (err) {
      if (!(err instanceof CheckpointExistsError)) throw err;
      firstUrl ||= err.url;
      const existing = await inspectExisting(store, err.url, state);
      if (existing.same) return existing.saved;
      warn(
        `checkpoint key ${err.url} holds ${existing.why}; it is left as it is and the checkpoint goes to the next version`,
        { url: err.url },
      );
    }
  }
  throw new CheckpointKeyConflictError(firstUrl, MAX_KEY_VERSIONS + 1);
}

async function inspectExisting(
  store: CheckpointIO,
  url: string,
  state: TrainingState,
): Promise<{ same: true; saved: SavedCheckpoint } | { same: false; why: string }> {
  const stat = await store.stat(url);
  if (!stat.sha256) return { same: false, why: 'an object without a recorded SHA-256' };
  let existing: TrainingState;
  try {
    existing = await store.load(url, { sha256: stat.sha256, bytes: stat.bytes });
  } catch (err) {
    if (err instanceof CheckpointError) return { same: false, why: `an unreadable object (${err.message})` };
    throw err; // storage trouble: retryable, and says nothing about the object
  }
  const same =
    existing.meta.weightsSha256 === state.meta.weightsSha256 &&
    existing.meta.cursor.step === state.meta.cursor.step &&
    existing.meta.rng !== undefined &&
    JSON.stringify(existing.meta.rng) === JSON.stringify(state.meta.rng);
  if (!same) return { same: false, why: 'a checkpoint of other training state' };
  return { same: true, saved: { url, key: stat.key, sha256: stat.sha256, bytes: stat.bytes } };
}

/** The `S3DeadlineError` in an error's cause chain, if any. */
export function deadlineErrorIn(err: unknown): S3DeadlineError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof S3DeadlineError) return e;
  }
  return undefined;
}

function pickCursor(cursor: TrainingState['meta']['cursor']) {
  return { epoch: cursor.epoch, batch: cursor.batch, step: cursor.step };
}
