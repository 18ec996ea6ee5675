/**
 * Checkpoint signatures: proof of origin, where `payload_sha256` proves only integrity (anyone who
 * can write to the bucket can replace a file and recompute every hash).
 *
 * HMAC-SHA-256 with one shared secret per fleet, not Ed25519: every worker both saves and loads
 * checkpoints (a resume loads what another worker signed), so every loader that matters holds the
 * power to sign anyway, and one random string in a file or env variable is the simplest key to
 * issue, rotate and keep out of workflow history. The `alg` in the signature leaves room for a
 * public-key scheme (loaders that cannot sign) without a format change.
 *
 * What is signed: the line `durable-fit.ckpt signature v1`, the algorithm, the key id and the
 * file's `payload_sha256`. That hash covers every other `__metadata__` entry (format, version, kind,
 * cursor, optimizer, RNG, spec, metrics, backend…), every tensor's name, dtype, shape and offsets,
 * and the data section byte for byte; only `payload_sha256` and `payload_signature` are outside it.
 * So a signature is valid only on a file whose embedded hash also verifies, and the signature lives
 * in the header itself: it survives a copy with any tool.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CheckpointSignatureError, CheckpointUnsignedError } from './errors';
import { PAYLOAD_SHA256_KEY, PAYLOAD_SIGNATURE_KEY } from './payload-hash';
import { keyName } from '../security/secret-safe';

/** The one algorithm written today. */
export const SIGNATURE_ALGORITHM = 'hmac-sha256';
/** Shortest secret accepted (characters): 32 is what `openssl rand -hex 16` prints. */
export const MIN_SECRET_LENGTH = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** One named signing secret. */
export interface SigningKey {
  id: string;
  secret: string;
}

/** The keys a store signs and verifies with. */
export interface CheckpointSigning {
  /** The key new checkpoints are signed with (also a verification key). */
  signWith: SigningKey;
  /** Every key a signature may name, by id: the current one and those rotated out. */
  keys: ReadonlyMap<string, string>;
  /**
   * Load checkpoints that carry no signature at all (migrating a fleet to signing). A badly signed
   * one is refused either way. @default false
   */
  acceptUnsigned?: boolean;
}

/** A signature as stored in `__metadata__.payload_signature`: `<alg>:<keyId>:<hex>`. */
export interface ParsedSignature {
  alg: string;
  keyId: string;
  hex: string;
}

/** Builds a signing configuration, checking ids and secrets; `signWith` must be among `keys`. */
export function createSigning(
  keys: readonly SigningKey[],
  signWithId: string,
  acceptUnsigned = false,
): CheckpointSigning {
  // Ids are named only when they look like ids (src/security/secret-safe.ts): a swapped id and
  // secret must not print the secret.
  const byId = new Map<string, string>();
  keys.forEach((key, i) => {
    const problem = signingKeyProblem(key);
    const name = keyName(key.id, `#${i + 1}`);
    if (problem) throw new Error(`checkpoint signing key ${name}: ${problem}`);
    if (byId.has(key.id)) throw new Error(`checkpoint signing key id ${name} appears twice`);
    byId.set(key.id, key.secret);
  });
  const secret = byId.get(signWithId);
  if (secret === undefined) {
    const ids = [...byId.keys()].map((id, i) => keyName(id, `#${i + 1}`)).join(', ');
    throw new Error(
      `checkpoint signing key ${keyName(signWithId, 'to sign with')} is not among the keys (${ids})`,
    );
  }
  return { signWith: { id: signWithId, secret }, keys: byId, acceptUnsigned };
}

/** Why a key cannot be used, or undefined. */
export function signingKeyProblem(key: SigningKey): string | undefined {
  if (!KEY_ID.test(key.id)) return 'its id must be 1-64 letters, digits, ".", "_" or "-"';
  if (key.secret.length < MIN_SECRET_LENGTH)
    return `its secret has ${key.secret.length} characters, fewer than ${MIN_SECRET_LENGTH} (make one with \`openssl rand -hex 32\`)`;
  return undefined;
}

/** The `payload_signature` value for a file whose header says `payloadSha256`. */
export function signPayload(payloadSha256: string, key: SigningKey): string {
  return `${SIGNATURE_ALGORITHM}:${key.id}:${mac(payloadSha256, key.id, key.secret)}`;
}

/** Splits a `payload_signature` value; undefined when it is not `<alg>:<keyId>:<hex>`. */
export function parseSignature(value: string): ParsedSignature | undefined {
  const match = /^([a-z0-9-]+):([A-Za-z0-9._-]{1,64}):([0-9a-f]+)$/.exec(value);
  if (!match) return undefined;
  return { alg: match[1] ?? '', keyId: match[2] ?? '', hex: match[3] ?? '' };
}

/**
 * Checks the signature in a header's metadata against the keys. The caller must have verified
 * `payload_sha256` against the bytes (the signature covers the hash, the hash covers the bytes).
 * Throws `CheckpointUnsignedError` (none, unless `acceptUnsigned`) or `CheckpointSignatureError`.
 */
export function verifySignature(
  metadata: Record<string, string>,
  signing: CheckpointSigning,
  target?: string,
): void {
  const value = metadata[PAYLOAD_SIGNATURE_KEY];
  const payloadSha256 = metadata[PAYLOAD_SHA256_KEY];
  if (value === undefined) {
    if (signing.acceptUnsigned) return;
    throw new CheckpointUnsignedError(target, payloadSha256 !== undefined);
  }
  const refuse = (reason: string) => new CheckpointSignatureError(reason, target);
  const parsed = parseSignature(value);
  if (!parsed)
    throw refuse(`payload_signature ${JSON.stringify(value.slice(0, 80))} is not <alg>:<keyId>:<hex>`);
  if (parsed.alg !== SIGNATURE_ALGORITHM)
    throw refuse(`signed with ${parsed.alg}; this durable-fit verifies ${SIGNATURE_ALGORITHM}`);
  const secret = signing.keys.get(parsed.keyId);
  if (secret === undefined) {
    throw refuse(
      `signed with key "${parsed.keyId}", which is not among the loaded keys (${[...signing.keys.keys()].join(', ')}); ` +
        'add it to the keys file if it is one of yours',
    );
  }
  if (payloadSha256 === undefined) throw refuse('signed, but the file embeds no payload_sha256 to sign');
  const want = Buffer.from(mac(payloadSha256, parsed.keyId, secret), 'hex');
  const got = Buffer.from(parsed.hex, 'hex');
  if (got.length !== want.length || !timingSafeEqual(got, want))
    throw refuse(
      `signature does not match key "${parsed.keyId}": the file was changed or signed by someone else`,
    );
}

/** The key id a header's signature names, or undefined when unsigned or malformed. */
export function signatureKeyId(metadata: Record<string, string>): string | undefined {
  const value = metadata[PAYLOAD_SIGNATURE_KEY];
  return value === undefined ? undefined : parseSignature(value)?.keyId;
}

function mac(payloadSha256: string, keyId: string, secret: string): string {
  const message = [
    'durable-fit.ckpt signature v1',
    `alg=${SIGNATURE_ALGORITHM}`,
    `key=${keyId}`,
    `${PAYLOAD_SHA256_KEY}=${payloadSha256.toLowerCase()}`,
  ].join('\n');
  return createHmac('sha256', secret).update(message, 'utf8').digest('hex');
}
