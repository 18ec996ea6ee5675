/**
 * Payload encryption keys: where they come from and what a valid set looks like. Keys live in a file
 * (`DFIT_ENCRYPTION_KEYS_FILE`) or the environment (`DFIT_ENCRYPTION_KEYS`), never in a workflow
 * input. The first key is the current one (it encrypts); every key decrypts, so histories written
 * before a rotation stay readable.
 */
import type { FailureKind } from '../failure-kind';
import fs from 'node:fs';

/** One AES-256 key and the id written next to every payload it encrypted. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Where to read keys from; `file` wins over `inline` when both are set. */
export interface EncryptionKeySource {
  /** JSON (`[{ "id": "k2", "key": "<base64>" }, …]` or `{ "k2": "<base64>", … }`) or `id=base64` lines. */
  file?: string;
  /** `id1:base64,id2:base64` (the `DFIT_ENCRYPTION_KEYS` form). */
  inline?: string;
}

/** A key set that cannot be used; the message says which entry and how to fix it. */
export class EncryptionKeyError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    message: string,
    readonly source: string,
  ) {
    super(`${message} [${source}]`);
  }
}

const KEY_BYTES = 32;
const ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const HOW = 'make one with `openssl rand -base64 32`';

/** Loads the configured keys, or undefined when none are configured (encryption off). */
export function loadEncryptionKeys(source: EncryptionKeySource): EncryptionKey[] | undefined {
  if (source.file) {
    let text: string;
    try {
      text = fs.readFileSync(source.file, 'utf8');
    } catch (err) {
      throw new EncryptionKeyError(
        `cannot read the encryption keys file (${(err as Error).message}); fix DFIT_ENCRYPTION_KEYS_FILE`,
        source.file,
      );
    }
    return parseKeysFile(text, source.file);
  }
  if (source.inline) return parseInlineKeys(source.inline, 'DFIT_ENCRYPTION_KEYS');
  return undefined;
}

/** A keys file: JSON (array of `{id, key}` or an `{ id: key }` object, in order) or `id=base64` lines. */
export function parseKeysFile(text: string, source: string): EncryptionKey[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      throw new EncryptionKeyError(`the keys file is not valid JSON (${(err as Error).message})`, source);
    }
    const entries = Array.isArray(parsed)
      ? parsed.map((e: unknown) => {
          const { id, key } = (e ?? {}) as { id?: unknown; key?: unknown };
          return [String(id), String(key)] as const;
        })
      : Object.entries(parsed as Record<string, unknown>).map(([id, key]) => [id, String(key)] as const);
    return toKeys(entries, source);
  }
  const lines = trimmed
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'));
  return toKeys(
    lines.map((line) => splitPair(line, '=', source)),
    source,
  );
}

/** The env form: `id1:base64,id2:base64`. */
export function parseInlineKeys(text: string, source: string): EncryptionKey[] {
  const pairs = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  return toKeys(
    pairs.map((pair) => splitPair(pair, ':', source)),
    source,
  );
}

/** A new random key in the form a keys file takes (`id=base64`). */
export function formatNewKey(id: string, key: Buffer): string {
  return `${id}=${key.toString('base64')}`;
}

function splitPair(text: string, separator: string, source: string): readonly [string, string] {
  const at = text.indexOf(separator);
  if (at <= 0) throw new EncryptionKeyError(`"${text.slice(0, 12)}…" is not id${separator}base64key`, source);
  return [text.slice(0, at).trim(), text.slice(at + 1).trim()] as const;
}

function toKeys(entries: readonly (readonly [string, string])[], source: string): EncryptionKey[] {
  if (entries.length === 0) throw new EncryptionKeyError(`no encryption keys in it; ${HOW}`, source);
  const seen = new Set<string>();
  return entries.map(([id, encoded]) => {
    if (!ID_PATTERN.test(id))
      throw new EncryptionKeyError(`key id "${id}" must be 1-64 letters, digits, '.', '_' or '-'`, source);
    if (seen.has(id))
      throw new EncryptionKeyError(`key id "${id}" appears twice; ids must be unique`, source);
    seen.add(id);
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== KEY_BYTES || key.toString('base64') !== encoded.replace(/\s/g, ''))
      throw new EncryptionKeyError(
        `key "${id}" is not ${KEY_BYTES} bytes of base64 (AES-256 needs exactly ${KEY_BYTES}); ${HOW}`,
        source,
      );
    return { id, key };
  });
}
