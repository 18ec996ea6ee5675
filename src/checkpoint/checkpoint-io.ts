/**
 * `CheckpointIO`: the port for one `.ckpt` at a time — save (create-only), load (verified), stat,
 * delete. Everything else about a run's folder (logs, listings, pins, upload journals) is the
 * `RunFolder` (run-folder.ts). The implementation over an `ObjectClient` is `ObjectCheckpointIO`
 * (object-checkpoint-io.ts); src/metrics/metered-store.ts wraps any implementation.
 */
import type { TrainingState } from '../state';
import type { EncodedCheckpoint } from './format';
import type { IntegrityTarget, VerifiedDownload } from './integrity';

/** Object metadata key holding the payload's hex SHA-256. */
export const SHA256_METADATA_KEY = 'sha256';

/** What a successful save returns, and what the workflow records. */
export interface SavedCheckpoint {
  url: string;
  key: string;
  sha256: string;
  bytes: number;
}

/** A run's starting checkpoint as `loadSource` read it: the state, and the hash and size of its bytes. */
export interface LoadedSource {
  state: TrainingState;
  /** Hex SHA-256 of the whole file as downloaded and verified. */
  sha256: string;
  bytes: number;
}

export interface CheckpointStat {
  url: string;
  key: string;
  bytes: number;
  /** From object metadata; undefined when the object was not written by this store. */
  sha256: string | undefined;
  lastModified: Date;
}

/** What the caller already knows about a checkpoint (from the workflow record). */
export interface ExpectedIntegrity {
  sha256?: string;
  bytes?: number;
}

export interface SaveOptions {
  /** Epoch in the key. @default state.meta.cursor.epoch */
  epoch?: number;
  /** Step in the key. @default state.meta.cursor.step */
  step?: number;
  /** Key version: 0 = the plain key, N = `…-vN.ckpt` (when the plain key holds another object). @default 0 */
  version?: number;
}

/** Reads and writes single checkpoints of one bucket. */
export interface CheckpointIO {
  /** Bucket every URL must name. */
  readonly bucket: string;
  /** The id of the key saves are signed with; undefined when saves are not signed. */
  readonly signingKeyId: string | undefined;
  /** Saves a training state under `<runName>/epoch=EEEE-step=SSSSSSS.ckpt`; never overwrites. */
  save(runName: string, state: TrainingState, options?: SaveOptions): Promise<SavedCheckpoint>;
  /** Writes already-encoded checkpoint bytes at an explicit `.ckpt` URL, create-only. */
  saveEncoded(url: string, encoded: EncodedCheckpoint): Promise<SavedCheckpoint>;
  /** Downloads, verifies (size, SHA-256, embedded hash and signature as configured) and decodes. */
  load(url: string, expected?: ExpectedIntegrity): Promise<TrainingState>;
  /** The verified bytes, not decoded. */
  loadBytes(url: string, expected?: ExpectedIntegrity): Promise<Buffer>;
  /** A run's starting checkpoint: the state, the hash and size of the bytes read; its cursor must match its key. */
  loadSource(url: string): Promise<LoadedSource>;
  /**
   * The one verified download behind `load`, `loadBytes` and `loadSource`. `payloadSha256` is
   * returned when it still has to be checked against the header while decoding (`decodeFetched`).
   */
  fetchVerified(url: string, expected: ExpectedIntegrity): Promise<VerifiedDownload>;
  /** Downloads to a local file that appears only once its hash (and signature) verified. */
  getToFile(url: string, file: string, expected?: ExpectedIntegrity): Promise<IntegrityTarget>;
  /** Size, hash and time of one checkpoint. */
  stat(url: string): Promise<CheckpointStat>;
  /** Deletes one checkpoint (a no-op when it is already gone). */
  remove(url: string): Promise<void>;
}
