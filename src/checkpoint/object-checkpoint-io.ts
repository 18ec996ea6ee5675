/**
 * `ObjectCheckpointIO`: the `CheckpointIO` port over an `ObjectClient` (so unit tests run it on the
 * in-memory fake). Writes are create-only; a checkpoint counts only once its PUT succeeded; every
 * load checks size and SHA-256 before a byte is decoded. With signing keys, every `.ckpt` it writes
 * is signed and every one it reads must carry a valid signature (signing.ts).
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { hashChunks } from '../storage/hash-worker';
import type { ObjectClient } from '../storage/object-client';
import { ObjectExistsError, ObjectNotFoundError } from '../storage/object-client';
import type { TrainingState } from '../state';
import type {
  CheckpointIO,
  CheckpointStat,
  ExpectedIntegrity,
  SavedCheckpoint,
  SaveOptions,
} from './checkpoint-io';
import { SHA256_METADATA_KEY } from './checkpoint-io';
import { listCheckpoints } from './checkpoint-listing';
import {
  CheckpointCorruptError,
  CheckpointExistsError,
  CheckpointIsPrefixError,
  CheckpointNotFoundError,
  InvalidCheckpointUrlError,
  NotACkptError,
} from './errors';
import type { EncodedCheckpoint } from './format';
import { encodeCheckpointParts, readCheckpointHeader, withHeaderEntries } from './format';
import type { IntegrityTarget, VerifiedDownload } from './integrity';
import { downloadVerified, writeVerified } from './integrity';
import { assertCkptUrl, formatCheckpointKey, formatCheckpointUrl, parseCheckpointUrl } from './keys';
import { PAYLOAD_SHA256_KEY, PAYLOAD_SIGNATURE_KEY } from './payload-hash';
import type { CheckpointSigning } from './signing';
import { signPayload } from './signing';
import { assertCheckpointSize, DEFAULT_MAX_CHECKPOINT_BYTES } from './size-limit';
import { verifyEmbedded } from './verified-decode';
import { VerifiedLoads } from './verified-loads';

export interface CheckpointIOOptions {
  /** Sign every save and refuse loads that are not validly signed. @default undefined (no signing) */
  signing?: CheckpointSigning;
  /** Refuse to download a checkpoint larger than this (size-limit.ts). @default 2 GiB */
  maxCheckpointBytes?: number;
}

export class ObjectCheckpointIO extends VerifiedLoads implements CheckpointIO {
  private readonly signing: CheckpointSigning | undefined;
  private readonly maxCheckpointBytes: number;

  constructor(
    private readonly objects: ObjectClient,
    options: CheckpointIOOptions = {},
  ) {
    super();
    this.signing = options.signing;
    this.maxCheckpointBytes = options.maxCheckpointBytes ?? DEFAULT_MAX_CHECKPOINT_BYTES;
  }

  get signingKeyId(): string | undefined {
    return this.signing?.signWith.id;
  }

  get bucket(): string {
    return this.objects.bucket;
  }

  async save(runName: string, state: TrainingState, options: SaveOptions = {}): Promise<SavedCheckpoint> {
    const { epoch, step } = state.meta.cursor;
    const key = formatCheckpointKey(runName, options.epoch ?? epoch, options.step ?? step, options.version);
    return this.saveEncoded(formatCheckpointUrl(this.bucket, key), encodeCheckpointParts(state));
  }

  /**
   * The hash is computed (in a worker thread) before the upload starts because S3 sends metadata
   * (and the checksum) ahead of the body; the chunks then go up without being concatenated.
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
   * The embedded hash and signature are checked here when there is no recorded hash or there are
   * keys (object metadata is no proof of origin). The payload hash is computed in the same pass
   * unless the caller vouched for the file hash and there are no keys.
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

  async getToFile(url: string, file: string, expected: ExpectedIntegrity = {}): Promise<IntegrityTarget> {
    const target = await this.integrityTarget(url, expected);
    const check = async (partial: string) => {
      if (!target.sha256 || this.signing)
        verifyEmbedded(await readFile(partial), url, this.signing, !!target.sha256);
    };
    const sha256 = await writeVerified(await this.open(url), file, target, check);
    return { ...target, sha256 };
  }

  async stat(url: string): Promise<CheckpointStat> {
    const key = await this.existingCkptKey(url);
    const stat = await this.objects.stat(key);
    if (!stat) throw new CheckpointNotFoundError(url);
    const sha256 = stat.metadata[SHA256_METADATA_KEY];
    return { url, key, bytes: stat.size, sha256, lastModified: stat.lastModified };
  }

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
      const under = await listCheckpoints(this.objects, prefix);
      const newest = under.at(-1);
      if (newest) throw new CheckpointIsPrefixError(url, under.length, newest.url);
      if (!(await this.objects.stat(key))) throw new CheckpointNotFoundError(url);
      throw err;
    }
  }
}
