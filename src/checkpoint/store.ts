/**
 * `CheckpointStore`: the one module that knows the key layout and integrity rules. Writes are
 * create-only; a checkpoint counts only once its PUT succeeded; every load checks size and SHA-256
 * before a byte is decoded. With signing keys, every `.ckpt` it writes is signed and every one it
 * reads must carry a valid signature (signing.ts). Its input is an `ObjectClient`, so unit tests run
 * it on the in-memory fake.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { hashChunks } from '../storage/hash-worker';
import type { ObjectClient } from '../storage/object-client';
import { ObjectExistsError, ObjectNotFoundError } from '../storage/object-client';
import type { TrainingState } from '../state';
import {
  CheckpointCorruptError,
  CheckpointCursorMismatchError,
  CheckpointExistsError,
  CheckpointIsPrefixError,
  CheckpointNotFoundError,
  InvalidCheckpointUrlError,
  NotACkptError,
} from './errors';
import type { EncodedCheckpoint } from './format';
import { decodeCheckpoint, encodeCheckpointParts, readCheckpointHeader, withHeaderEntries } from './format';
import type { IntegrityTarget, VerifiedDownload } from './integrity';
import { downloadVerified, writeVerified } from './integrity';
import { checkMarker } from './meta-codec';
import { assertCheckpointSize, DEFAULT_MAX_CHECKPOINT_BYTES } from './size-limit';
import {
  checkPayloadSha256,
  PAYLOAD_SHA256_KEY,
  PAYLOAD_SIGNATURE_KEY,
  payloadSha256 as payloadHash,
} from './payload-hash';
import type { CheckpointSigning } from './signing';
import { signatureKeyId, signPayload, verifySignature } from './signing';
import type { CheckpointKeyParts } from './keys';
import {
  assertCkptUrl,
  checkpointFileName,
  CKPT_EXTENSION,
  compareCheckpointParts,
  cursorOfKey,
  formatCheckpointKey,
  formatCheckpointUrl,
  parseCheckpointKey,
  parseCheckpointUrl,
  runPrefix,
} from './keys';

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

/** One checkpoint of a run, from a listing. */
export interface CheckpointRecord extends CheckpointKeyParts {
  url: string;
  key: string;
  bytes: number;
  lastModified: Date;
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

export interface CheckpointStoreOptions {
  /** Sign every save and refuse loads that are not validly signed. @default undefined (no signing) */
  signing?: CheckpointSigning;
  /** Refuse to download a checkpoint larger than this (size-limit.ts). @default 2 GiB */
  maxCheckpointBytes?: number;
}

export interface ImportOptions {
  /**
   * Sign the file with the store's key (it must verify by its embedded hash first). Without it, a
   * store with keys takes only a file already validly signed. @default false
   */
  sign?: boolean;
}

export class CheckpointStore {
  private readonly signing: CheckpointSigning | undefined;
  private readonly maxCheckpointBytes: number;

  constructor(
    private readonly objects: ObjectClient,
    options: CheckpointStoreOptions = {},
  ) {
    this.signing = options.signing;
    this.maxCheckpointBytes = options.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES;
  }

  /** The id of the key saves are signed with; undefined when the store does not sign. */
  get signingKeyId(): string | undefined {
    return this.signing?.signWith.id;
  }

  /** Bucket this store writes to. */
  get bucket(): string {
    return this.objects.bucket;
  }

  /** Saves a training state under `<runName>/epoch=EEEE-step=SSSSSSS.ckpt`; never overwrites. */
  async save(runName: string, state: TrainingState, options: SaveOptions = {}): Promise<SavedCheckpoint> {
    const { epoch, step } = state.meta.cursor;
    const key = formatCheckpointKey(runName, options.epoch ?? epoch, options.step ?? step, options.version);
    return this.saveEncoded(formatCheckpointUrl(this.bucket, key), encodeCheckpointParts(state));
  }

  /**
   * Writes already-encoded checkpoint bytes at an explicit `.ckpt` URL, create-only. The hash is
   * computed (in a worker thread) before the upload starts because S3 sends metadata (and the
   * checksum) ahead of the body; the chunks then go up without being concatenated.
   */
  async saveEncoded(url: string, unsigned: EncodedCheckpoint): Promise<SavedCheckpoint> {
    const key = this.ckptKey(url);
    const encoded = this.signed(unsigned);
    const sha256 = await hashChunks(encoded.parts);
    try {
      await this.objects.put(key, encoded.parts, {
        size: encoded.bytes,
        sha256,
        ifNoneMatch: true,
        metadata: { [SHA256_METADATA_KEY]: sha256 },
      });
    } catch (err) {
      if (err instanceof ObjectExistsError) throw new CheckpointExistsError(url);
      throw new Error(`save checkpoint failed [url=${url}]`, { cause: err });
    }
    return { url, key, sha256, bytes: encoded.bytes };
  }

  /**
   * Loads and decodes a checkpoint after verifying its size and SHA-256. Its embedded payload hash
   * is checked too (computed in the download's pass), except when the caller's own record vouched
   * for the file's SHA-256: the file is then byte for byte the one saved with a valid payload hash.
   */
  async load(url: string, expected: ExpectedIntegrity = {}): Promise<TrainingState> {
    const { bytes, payloadSha256 } = await this.fetchVerified(url, expected);
    return this.decodeVerified(bytes, url, payloadSha256);
  }

  /**
   * Loads a checkpoint a run starts from (`resumeFrom`, a fork's source), binding its content to its
   * URL: returns the SHA-256 and size of the bytes actually read and verified (also for a file
   * copied in without our object metadata, whose embedded hash is what was checked), for the run to
   * record, and refuses a file whose cursor is not the `epoch=`/`step=` its key names
   * (`CheckpointCursorMismatchError`).
   */
  async loadSource(url: string): Promise<LoadedSource> {
    const { bytes, sha256, payloadSha256 } = await this.fetchVerified(url, {});
    const state = this.decodeVerified(bytes, url, payloadSha256);
    const key = this.ckptKey(url);
    const named = cursorOfKey(key);
    const { cursor } = state.meta;
    if (named && (named.epoch !== cursor.epoch || named.step !== cursor.step)) {
      const own = key.slice(0, key.lastIndexOf('/') + 1) + checkpointFileName(cursor.epoch, cursor.step);
      const ownUrl = formatCheckpointUrl(this.bucket, own);
      throw new CheckpointCursorMismatchError(url, named, cursor, ownUrl);
    }
    return { state, sha256, bytes: bytes.length };
  }

  /**
   * The verified bytes of a checkpoint (size and SHA-256 checked), not decoded: one buffer, backed
   * by shared memory (a `SharedArrayBuffer`). A file copied in without our object metadata is
   * checked against the hash it embeds (format v2).
   */
  async loadBytes(url: string, expected: ExpectedIntegrity = {}): Promise<Buffer> {
    return (await this.fetchVerified(url, expected)).bytes;
  }

  /**
   * Downloads and verifies; the embedded hash and signature are checked here when there is no
   * recorded hash or the store has keys (object metadata is no proof of origin). The payload hash
   * is computed in the same pass unless the caller vouched for the file hash and there are no keys;
   * it is returned when it still has to be checked against the header (by `load`). The one download
   * path of `load` and `loadBytes` (src/metrics/metered-store.ts times it).
   */
  async fetchVerified(url: string, expected: ExpectedIntegrity): Promise<VerifiedDownload> {
    const target = await this.integrityTarget(url, expected);
    const key = this.ckptKey(url);
    const embedded = !target.sha256 || !!this.signing;
    const vouched = !!expected.sha256 && !this.signing;
    let result: VerifiedDownload;
    try {
      result = await downloadVerified(
        (offset, length) => this.objects.getRange(key, offset, length),
        target,
        !vouched,
      );
    } catch (err) {
      if (err instanceof CheckpointCorruptError) throw err;
      if (err instanceof ObjectNotFoundError) throw new CheckpointNotFoundError(url);
      throw new Error(`load checkpoint failed [url=${url}]`, { cause: err });
    }
    if (!embedded) return result;
    verifyEmbedded(result.bytes, url, this.signing, !!target.sha256, result.payloadSha256);
    return { bytes: result.bytes, sha256: result.sha256 };
  }

  /** Downloads a checkpoint to a local file; the file appears only once its hash (and signature) verified. */
  async getToFile(url: string, file: string, expected: ExpectedIntegrity = {}): Promise<IntegrityTarget> {
    const target = await this.integrityTarget(url, expected);
    const check = async (partial: string) => {
      if (!target.sha256 || this.signing)
        verifyEmbedded(await readFile(partial), url, this.signing, !!target.sha256);
    };
    const sha256 = await writeVerified(await this.open(url), file, target, check);
    return { ...target, sha256 };
  }

  /**
   * Uploads a local checkpoint file into a run folder, under the key its cursor names, with our
   * object metadata: only a training state whose embedded hash verifies (format v2) is taken. With
   * keys, the file must be validly signed already, or `sign` must ask for it to be signed (never a
   * file whose signature names one of our keys and fails: that is a forgery, not a stranger).
   * Create-only, like every save.
   */
  async importFile(
    runName: string,
    bytes: Buffer,
    source: string,
    options: ImportOptions = {},
  ): Promise<SavedCheckpoint> {
    const { meta } = decodeCheckpoint(bytes, source);
    verifyEmbedded(bytes, source);
    let encoded: EncodedCheckpoint = { parts: [bytes], bytes: bytes.length };
    if (options.sign) {
      if (!this.signing)
        throw new Error(
          'ckpt import --sign needs a signing key: set DFIT_CKPT_SIGNING_KEY or DFIT_CKPT_SIGNING_KEYS_FILE',
        );
      const header = readCheckpointHeader(bytes);
      const keyId = signatureKeyId(header.metadata);
      if (keyId !== undefined && this.signing.keys.has(keyId)) verifyEmbedded(bytes, source, this.signing);
      encoded = withHeaderEntries(encoded, {
        [PAYLOAD_SIGNATURE_KEY]: signPayload(
          header.metadata[PAYLOAD_SHA256_KEY] ?? '',
          this.signing.signWith,
        ),
      });
    } else if (this.signing) {
      verifyEmbedded(bytes, source, { ...this.signing, acceptUnsigned: false });
    }
    const url = formatCheckpointUrl(
      this.bucket,
      formatCheckpointKey(runName, meta.cursor.epoch, meta.cursor.step),
    );
    return this.saveEncoded(url, encoded);
  }

  /** A run's checkpoints, oldest first by (epoch, step). */
  async list(runName: string): Promise<CheckpointRecord[]> {
    // Checkpoints sit at the folder's top level: the run's log/, pins/ and .uploads/ are not listed.
    const records = await this.listUnder(runPrefix(runName), false);
    return records.filter((r) => r.runName === runName);
  }

  /** URLs of every `.ckpt` under `<run>/<folder>/` (e.g. a data-parallel run's `parallel`), by key. */
  async listCkptUrlsUnder(runName: string, folder: string): Promise<string[]> {
    const objects = await this.objects.list(`${runPrefix(runName)}${folder}/`, { recursive: true });
    const keys = objects.map((o) => o.key).filter((k) => k.endsWith(CKPT_EXTENSION));
    return keys.sort().map((key) => formatCheckpointUrl(this.bucket, key));
  }

  /** Names of the run folders (holding checkpoints) that start with `prefix`, sorted. */
  async runsStartingWith(prefix: string): Promise<string[]> {
    const runs = new Set((await this.listUnder(prefix)).map((r) => r.runName));
    return [...runs].sort();
  }

  /** Size, hash and time of one checkpoint. */
  async stat(url: string): Promise<CheckpointStat> {
    const key = await this.existingCkptKey(url);
    const stat = await this.objects.stat(key);
    if (!stat) throw new CheckpointNotFoundError(url);
    const sha256 = stat.metadata[SHA256_METADATA_KEY];
    return { url, key, bytes: stat.size, sha256, lastModified: stat.lastModified };
  }

  /**
   * Writes a small JSON document under the run's folder, e.g. the per-epoch log
   * `<run>/log/epoch=000123.json`. Overwrites: a re-run of the same epoch logs the same facts.
   */
  async putRunJson(runName: string, name: string, value: unknown): Promise<string> {
    const key = `${runPrefix(runName)}${name}`;
    await this.objects.put(key, Buffer.from(JSON.stringify(value, null, 1)));
    return formatCheckpointUrl(this.bucket, key);
  }

  /** The JSON documents under `<run>/<folder>/` (e.g. `pins`), in key order; unreadable ones skipped. */
  async listRunJson(runName: string, folder: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const object of await this.objects.list(`${runPrefix(runName)}${folder}/`)) {
      if (!object.key.endsWith('.json')) continue;
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of await this.objects.get(object.key)) chunks.push(chunk as Buffer);
        out.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        if (!(err instanceof ObjectNotFoundError || err instanceof SyntaxError)) throw err;
      }
    }
    return out;
  }

  /**
   * Aborts the incomplete multipart uploads under a run's folder: parts a killed writer left behind
   * (invisible, but stored and billed). Call it only when no writer of this run is alive, e.g. when
   * a resume starts. Uploads that were in flight when a later run took the folder over belong to the
   * run before it and are left alone (they are listed in that run's hold, pins.ts). `under`: only in
   * that subfolder (e.g. `parallel/round=0003`). Returns how many uploads were aborted.
   */
  async abortIncompleteUploads(runName: string, under?: string): Promise<number> {
    const held = (await this.listRunJson(runName, 'pins')).flatMap((pin) => {
      const uploads = (pin as { uploads?: unknown } | null)?.uploads;
      return Array.isArray(uploads) ? uploads.filter((u): u is string => typeof u === 'string') : [];
    });
    const prefix = `${runPrefix(runName)}${under ? `${under}/` : ''}`;
    return this.objects.abortIncompleteUploads(prefix, { except: held });
  }

  /** Every object key in a run's folder, subfolders included (pins, logs, uploads, `parallel/`). */
  async listFolderKeys(runName: string): Promise<string[]> {
    return (await this.objects.list(runPrefix(runName), { recursive: true })).map((o) => o.key).sort();
  }

  /** Deletes one checkpoint (a no-op when it is already gone). */
  async remove(url: string): Promise<void> {
    await this.objects.remove(this.ckptKey(url));
  }

  /**
   * What the download must match. When the caller knows both size and SHA-256 (the workflow record
   * does), the download itself is checked against them and no `stat` round trip is spent: a wrong
   * size fails as `truncated`/`size-mismatch` while streaming, a wrong hash as `hash-mismatch`, both
   * before a byte is decoded. Otherwise the object's size and recorded hash come from a `stat`.
   */
  private async integrityTarget(url: string, expected: ExpectedIntegrity): Promise<IntegrityTarget> {
    if (expected.sha256 && expected.bytes !== undefined && this.isCkptUrl(url)) {
      assertCheckpointSize(url, expected.bytes, this.maxCheckpointBytes);
      return { url, bytes: expected.bytes, sha256: expected.sha256.toLowerCase() };
    }
    const stat = await this.stat(url);
    assertCheckpointSize(url, stat.bytes, this.maxCheckpointBytes); // before a byte is downloaded
    if (expected.bytes !== undefined && expected.bytes !== stat.bytes) {
      const kind = stat.bytes < expected.bytes ? 'truncated' : 'size-mismatch';
      throw new CheckpointCorruptError(
        kind,
        `object has ${stat.bytes} bytes, expected ${expected.bytes}`,
        url,
      );
    }
    const recorded = stat.sha256?.toLowerCase();
    const wanted = expected.sha256?.toLowerCase();
    if (recorded && wanted && recorded !== wanted) {
      throw new CheckpointCorruptError(
        'hash-mismatch',
        `object metadata says ${recorded}, expected ${wanted}`,
        url,
      );
    }
    // Neither: a copy made with another tool. The caller checks the hash the file embeds.
    const sha256 = wanted ?? recorded;
    return sha256 ? { url, bytes: stat.bytes, sha256 } : { url, bytes: stat.bytes };
  }

  /** Decodes downloaded bytes, checking the payload hash computed in the download's pass (if any). */
  private decodeVerified(bytes: Buffer, url: string, payloadSha256: string | undefined): TrainingState {
    try {
      const state = decodeCheckpoint(bytes, url, true);
      if (payloadSha256 !== undefined) {
        const header = readCheckpointHeader(bytes);
        checkPayloadSha256(header, payloadSha256, url, state.meta.formatVersion >= 2);
      }
      return state;
    } catch (err) {
      if (err instanceof CheckpointCorruptError && !err.url)
        throw new CheckpointCorruptError(err.kind, err.detail, url);
      throw err;
    }
  }

  /** With keys, a checkpoint that carries no signature yet gets one (its payload hash is ours). */
  private signed(encoded: EncodedCheckpoint): EncodedCheckpoint {
    if (!this.signing) return encoded;
    const first = encoded.parts[0];
    const header = first && readCheckpointHeader(first, encoded.bytes);
    const payloadSha256 = header?.metadata[PAYLOAD_SHA256_KEY];
    if (!header || header.metadata[PAYLOAD_SIGNATURE_KEY] !== undefined || payloadSha256 === undefined)
      return encoded;
    return withHeaderEntries(encoded, {
      [PAYLOAD_SIGNATURE_KEY]: signPayload(payloadSha256, this.signing.signWith),
    });
  }

  private async open(url: string): Promise<Readable> {
    try {
      return await this.objects.get(this.ckptKey(url));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new CheckpointNotFoundError(url);
      throw new Error(`load checkpoint failed [url=${url}]`, { cause: err });
    }
  }

  private isCkptUrl(url: string): boolean {
    try {
      this.ckptKey(url);
      return true;
    } catch {
      return false; // let `stat` report it (a prefix of checkpoints, a wrong bucket, …)
    }
  }

  /** Parses the URL, checks the bucket and the `.ckpt` extension (without touching the store). */
  private ckptKey(url: string): string {
    const { bucket } = parseCheckpointUrl(url);
    if (bucket !== this.bucket) {
      throw new InvalidCheckpointUrlError(
        url,
        `bucket "${bucket}" is not the configured bucket "${this.bucket}"`,
      );
    }
    return assertCkptUrl(url);
  }

  /** Like `ckptKey`, but tells a prefix full of checkpoints apart from a plain wrong name. */
  private async existingCkptKey(url: string): Promise<string> {
    try {
      return this.ckptKey(url);
    } catch (err) {
      if (!(err instanceof NotACkptError)) throw err;
      const { key } = parseCheckpointUrl(url);
      const prefix = key === '' || key.endsWith('/') ? key : `${key}/`;
      const under = await this.listUnder(prefix);
      const newest = under.at(-1);
      if (newest) throw new CheckpointIsPrefixError(url, under.length, newest.url);
      if (!(await this.objects.stat(key))) throw new CheckpointNotFoundError(url);
      throw err;
    }
  }

  private async listUnder(prefix: string, recursive = true): Promise<CheckpointRecord[]> {
    const out: CheckpointRecord[] = [];
    for (const object of await this.objects.list(prefix, { recursive })) {
      const parts = parseCheckpointKey(object.key);
      if (!parts) continue;
      const url = formatCheckpointUrl(this.bucket, object.key);
      out.push({ ...parts, url, key: object.key, bytes: object.size, lastModified: object.lastModified });
    }
    return out.sort((a, b) => compareCheckpointParts(a, b) || a.key.localeCompare(b.key));
  }
}

/**
 * Checks a whole file against the hash in its own header (a file that embeds none is refused unless
 * `hashedByMetadata`: its object metadata's hash was checked), and its signature when `signing` is given.
 */
function verifyEmbedded(
  bytes: Uint8Array,
  target: string,
  signing?: CheckpointSigning,
  hashedByMetadata = false,
  payloadSha256?: string,
): void {
  try {
    const header = readCheckpointHeader(bytes);
    checkMarker(header.metadata, header.metadata.kind === 'model' ? 'model' : 'training-state', target);
    if (signing && header.metadata[PAYLOAD_SHA256_KEY] === undefined) {
      verifySignature(header.metadata, signing, target); // format v1: unsigned (unless accepted)
      if (hashedByMetadata) return;
    }
    const data = () => bytes.subarray(header.dataStart, header.dataStart + header.dataBytes);
    checkPayloadSha256(
      header,
      payloadSha256 ?? (() => payloadHash(header.metadata, header.tensors, [data()])),
      target,
    );
    if (signing) verifySignature(header.metadata, signing, target);
  } catch (err) {
    if (err instanceof CheckpointCorruptError && !err.url)
      throw new CheckpointCorruptError(err.kind, err.detail, target);
    throw err;
  }
}
