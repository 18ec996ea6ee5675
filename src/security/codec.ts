/**
 * AES-256-GCM payload encryption, as a Temporal `PayloadCodec`. Each encrypted payload carries the
 * id of its key in its metadata (`encryption-key-id`), so after a rotation the old keys still
 * decrypt old histories while the current (first) key encrypts everything new. The whole original
 * payload (its metadata and data) is encrypted, so the history shows neither values nor encodings.
 */
import type { FailureKind } from '../failure-kind';
import crypto from 'node:crypto';
import type { Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { EncryptionKey } from './keys';

/** The `encoding` metadata of an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
/** The metadata key that names the key a payload was encrypted with. */
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A payload encrypted with a key this process does not have. */
export class UnknownEncryptionKeyError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly keyId: string,
    readonly knownKeyIds: readonly string[],
  ) {
    super(
      `payload is encrypted with key "${keyId}", which is not loaded (loaded: ${knownKeyIds.join(', ')}); ` +
        `add "${keyId}" to DFIT_ENCRYPTION_KEYS_FILE (or DFIT_ENCRYPTION_KEYS) after the current key, ` +
        'and keep old keys there for as long as histories that use them are kept',
    );
  }
}

/** A payload that fails authentication: tampered, truncated, or encrypted with another key of that id. */
export class PayloadDecryptionError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly keyId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `encrypted payload failed authentication with key "${keyId}": it was changed after encryption, ` +
        `or "${keyId}" here is not the key that encrypted it (compare the keys files)`,
      options,
    );
  }
}

/** An encrypted payload met by a process that has no encryption keys configured. */
export class EncryptionKeysMissingError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(readonly keyId: string) {
    super(
      `this run's payloads are encrypted (key "${keyId}") and no encryption keys are configured here: ` +
        'set DFIT_ENCRYPTION_KEYS_FILE (or DFIT_ENCRYPTION_KEYS) to the keys the workers use',
    );
  }
}

/** For processes without keys: payloads stay clear, and an encrypted one fails saying what to set. */
export class MissingKeysCodec implements PayloadCodec {
  // async: a bad payload must reject the promise, not throw before it exists
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads;
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    for (const payload of payloads) {
      const encoding = payload.metadata?.encoding;
      if (encoding && decoder.decode(encoding) === ENCRYPTED_ENCODING) {
        const rawId = payload.metadata?.[KEY_ID_METADATA];
        throw new EncryptionKeysMissingError(rawId ? decoder.decode(rawId) : '(none)');
      }
    }
    return payloads;
  }
}

/** Encrypts with `keys[0]`, decrypts with whichever key a payload names; plain payloads pass through. */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  private readonly current: EncryptionKey;

  constructor(keys: readonly EncryptionKey[]) {
    const [current] = keys;
    if (!current) throw new Error('AesGcmPayloadCodec needs at least one key (the first encrypts)');
    this.current = current;
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** The id of the key new payloads are encrypted with. */
  get currentKeyId(): string {
    return this.current.id;
  }

  // async: a bad payload must reject the promise, not throw before it exists
  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.encrypt(payload));
  }

  // async: a bad payload must reject the promise, not throw before it exists
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => this.decrypt(payload));
  }

  private encrypt(payload: Payload): Payload {
    const { id, key } = this.current;
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', key, iv);
    cipher.setAAD(Buffer.from(id)); // the key id in the clear metadata cannot be swapped unnoticed
    const plain = temporal.api.common.v1.Payload.encode(payload).finish();
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    return {
      metadata: { encoding: encoder.encode(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: encoder.encode(id) },
      data: Buffer.concat([iv, body, cipher.getAuthTag()]),
    };
  }

  private decrypt(payload: Payload): Payload {
    const encoding = payload.metadata?.encoding;
    if (!encoding || decoder.decode(encoding) !== ENCRYPTED_ENCODING) return payload;
    const rawId = payload.metadata?.[KEY_ID_METADATA];
    const id = rawId ? decoder.decode(rawId) : '(none)';
    const key = this.keys.get(id);
    if (!key) throw new UnknownEncryptionKeyError(id, [...this.keys.keys()]);
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadDecryptionError(id);
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(id));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return temporal.api.common.v1.Payload.decode(plain);
    } catch (err) {
      throw new PayloadDecryptionError(id, { cause: err });
    }
  }
}
