/** `durable-fit ckpt import`: a local `.ckpt` file into a run folder, verified (and signed if asked). */
import type { CheckpointIO, SavedCheckpoint } from './checkpoint-io';
import type { EncodedCheckpoint } from './format';
import { decodeCheckpoint, readCheckpointHeader, withHeaderEntries } from './format';
import { formatCheckpointKey, formatCheckpointUrl } from './keys';
import { PAYLOAD_SHA256_KEY, PAYLOAD_SIGNATURE_KEY } from './payload-hash';
import type { CheckpointSigning } from './signing';
import { signatureKeyId, signPayload } from './signing';
import { verifyEmbedded } from './verified-decode';

export interface ImportOptions {
  /**
   * Sign the file with the store's key (it must verify by its embedded hash first). Without it, a
   * store with keys takes only a file already validly signed. @default false
   */
  sign?: boolean;
}

/**
 * Uploads a local checkpoint file into a run folder, under the key its cursor names, with our
 * object metadata: only a training state whose embedded hash verifies (format v2) is taken. With
 * keys (`signing`, the same the port was built with), the file must be validly signed already, or
 * `sign` must ask for it to be signed (never a file whose signature names one of our keys and fails:
 * that is a forgery, not a stranger). Create-only, like every save.
 */
export async function importCheckpointFile(
  io: CheckpointIO,
  signing: CheckpointSigning | undefined,
  runName: string,
  bytes: Buffer,
  source: string,
  options: ImportOptions = {},
): Promise<SavedCheckpoint> {
  const { meta } = decodeCheckpoint(bytes, source);
  verifyEmbedded(bytes, source);
  let encoded: EncodedCheckpoint = { parts: [bytes], bytes: bytes.length };
  if (options.sign) {
    if (!signing)
      throw new Error(
        'ckpt import --sign needs a signing key: set DFIT_CKPT_SIGNING_KEY or DFIT_CKPT_SIGNING_KEYS_FILE',
      );
    const header = readCheckpointHeader(bytes);
    const keyId = signatureKeyId(header.metadata);
    if (keyId !== undefined && signing.keys.has(keyId)) verifyEmbedded(bytes, source, signing);
    encoded = withHeaderEntries(encoded, {
      [PAYLOAD_SIGNATURE_KEY]: signPayload(header.metadata[PAYLOAD_SHA256_KEY] ?? '', signing.signWith),
    });
  } else if (signing) {
    verifyEmbedded(bytes, source, { ...signing, acceptUnsigned: false });
  }
  const url = formatCheckpointUrl(
    io.bucket,
    formatCheckpointKey(runName, meta.cursor.epoch, meta.cursor.step),
  );
  return io.saveEncoded(url, encoded);
}
