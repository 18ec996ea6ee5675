/**
 * What a checkpoint's verified bytes still need before use: the hash its header embeds (and its
 * signature), decoding, and — for a run's starting checkpoint — a cursor that matches its key. Shared
 * by `ObjectCheckpointIO` and any `CheckpointIO` decorator (src/metrics/metered-store.ts), so a
 * decorator that wraps only the download decodes exactly as the store does.
 */
import type { TrainingState } from '../state';
import type { LoadedSource } from './checkpoint-io';
import { CheckpointCorruptError, CheckpointCursorMismatchError } from './errors';
import { decodeCheckpoint, readCheckpointHeader } from './format';
import type { VerifiedDownload } from './integrity';
import {
  assertCkptUrl,
  checkpointFileName,
  cursorOfKey,
  formatCheckpointUrl,
  parseCheckpointUrl,
} from './keys';
import { checkMarker } from './meta-codec';
import { checkPayloadSha256, PAYLOAD_SHA256_KEY, payloadSha256 as payloadHash } from './payload-hash';
import type { CheckpointSigning } from './signing';
import { verifySignature } from './signing';

/** Decodes downloaded bytes, checking the payload hash computed in the download's pass (if any). */
export function decodeFetched(fetched: VerifiedDownload, url: string): TrainingState {
  const { bytes, payloadSha256 } = fetched;
  try {
    const state = decodeCheckpoint(bytes, url, true);
    if (payloadSha256 !== undefined) {
      const header = readCheckpointHeader(bytes);
      checkPayloadSha256(header, payloadSha256, url, state.meta.formatVersion >= 2);
    }
    return state;
  } catch (err) {
    throw withUrl(err, url);
  }
}

/**
 * A run's starting checkpoint from its verified download: decoded, with the SHA-256 and size of the
 * bytes read. Refuses a file whose cursor is not the `epoch=`/`step=` its key names
 * (`CheckpointCursorMismatchError`, naming the key the file's own cursor would have).
 */
export function sourceFromFetched(fetched: VerifiedDownload, url: string): LoadedSource {
  const state = decodeFetched(fetched, url);
  const key = assertCkptUrl(url);
  const named = cursorOfKey(key);
  const { cursor } = state.meta;
  if (named && (named.epoch !== cursor.epoch || named.step !== cursor.step)) {
    const own = key.slice(0, key.lastIndexOf('/') + 1) + checkpointFileName(cursor.epoch, cursor.step);
    const ownUrl = formatCheckpointUrl(parseCheckpointUrl(url).bucket, own);
    throw new CheckpointCursorMismatchError(url, named, cursor, ownUrl);
  }
  return { state, sha256: fetched.sha256, bytes: fetched.bytes.length };
}

/**
 * Checks a whole file against the hash in its own header (a file that embeds none is refused unless
 * `hashedByMetadata`: its object metadata's hash was checked), and its signature when `signing` is given.
 */
export function verifyEmbedded(
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
    throw withUrl(err, target);
  }
}

/** A corruption error raised without a URL gets the checkpoint's. */
function withUrl(err: unknown, url: string): unknown {
  if (err instanceof CheckpointCorruptError && !err.url)
    return new CheckpointCorruptError(err.kind, err.detail, url);
  return err;
}
