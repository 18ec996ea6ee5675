/**
 * Payload encryption keys: where they come from and what a valid set looks like. Keys live in a file
 * (`DFIT_ENCRYPTION_KEYS_FILE`) or the environment (`DFIT_ENCRYPTION_KEYS`), never in a workflow
 * input. The first key is the current one (it encrypts); every key decrypts, so histories written
 * before a rotation stay readable.
 */
import type { FailureKind } from '../failure-kind';
import fs from 'node:fs';
import { jsonErrorPlace, KEY_ID_PATTERN, keyName } from './secret-safe';

/** One AES-256 key and the id written next to every payload it encrypted. */
export interface EncryptionKey {
  readonly id: string;
  readonly key: Buffer;
}

/** Where to read keys from; `file` wins over `inline` when both are set. */
export interface EncryptionKeySource {
  /** JSON (`[{ "id": "k2", "key": "<base64>" }, …]` or `{ "k2": "<base64>", … }`) or `id=base64` lines. */
  file?: string;
  /** `id1:base64,id2:base64` (the `DFIT_ENCRYPTION_KEYS` form; `id1=base64` is taken too). */
  inline?: string;
}

/**
 * A key set that cannot be used; the message says which entry and how to fix it, and holds no key
 * material (src/security/secret-safe.ts).
 */
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
const HOW = 'make one with `openssl rand -base64 32`';
const JSON_SHAPE = 'expected [{"id": "k2", "key": "<base64>"}, …] or {"k2": "<base64>", …}';

/** One entry as written: its place (for messages), its id and its base64 key. */
interface KeyEntry {
  where: string;
  id: unknown;
  encoded: unknown;
}

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

/**
 * A keys file: JSON (array of `{id, key}` or an `{ id: key }` object, in order) or one key a line,
 * `id=base64` (or `id:base64`), `#` comments allowed.
 */
export function parseKeysFile(text: string, source: string): EncryptionKey[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (err) {
      // Never the parser's message: it quotes the input around the error, i.e. a piece of a key.
      throw new EncryptionKeyError(
        `the keys file is not valid JSON${jsonErrorPlace(err, trimmed)}; ${JSON_SHAPE}`,
        source,
      );
    }
    const entries: KeyEntry[] = Array.isArray(parsed)
      ? parsed.map((e: unknown, i) => {
          const { id, key } = (e !== null && typeof e === 'object' ? e : {}) as {
            id?: unknown;
            key?: unknown;
          };
          return { where: `entry ${i + 1}`, id, encoded: key };
        })
      : Object.entries(parsed as Record<string, unknown>).map(([id, key], i) => ({
          where: `entry ${i + 1}`,
          id,
          encoded: key,
        }));
    return toKeys(
      entries,
      source,
      Array.isArray(parsed) ? '{"id": "k1", "key": "<base64 key>"}' : '"k1": "<base64 key>"',
    );
  }
  const entries = text
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), where: `line ${i + 1}` }))
    .filter(({ line }) => line && !line.startsWith('#'))
    .map(({ line, where }) => splitPair(line, where, '=', source));
  return toKeys(entries, source, 'k1=<base64 key>');
}

/** The env form: `id1:base64,id2:base64` (`id1=base64` is taken too). */
export function parseInlineKeys(text: string, source: string): EncryptionKey[] {
  const entries = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((pair, i) => splitPair(pair, `entry ${i + 1}`, ':', source));
  return toKeys(entries, source, 'k1:<base64 key>');
}

/** A new random key in the form a keys file takes (`id=base64`). */
export function formatNewKey(id: string, key: Buffer): string {
  return `${id}=${key.toString('base64')}`;
}

/**
 * `id:base64` or `id=base64`, whichever the entry uses: an id holds neither character and base64
 * never holds ':' (its '=' is padding at the end), so the first of them is the separator.
 */
function splitPair(text: string, where: string, documented: ':' | '=', source: string): KeyEntry {
  const at = text.search(/[:=]/);
  if (at <= 0) {
    throw new EncryptionKeyError(
      `${where} is not <id>${documented}<base64 key> (e.g. "k1${documented}…"); ${HOW}`,
      source,
    );
  }
  return { where, id: text.slice(0, at).trim(), encoded: text.slice(at + 1).trim() };
}

/** `form`: how an entry of this source is written, for the message about a bad id. */
function toKeys(entries: readonly KeyEntry[], source: string, form: string): EncryptionKey[] {
  if (entries.length === 0) throw new EncryptionKeyError(`no encryption keys in it; ${HOW}`, source);
  const seen = new Set<string>();
  return entries.map(({ where, id, encoded }) => {
    if (typeof id !== 'string' || !KEY_ID_PATTERN.test(id)) {
      throw new EncryptionKeyError(
        `${where}: its key id must be 1-64 letters, digits, '.', '_' or '-': write ${form}`,
        source,
      );
    }
    const name = keyName(id, where);
    if (seen.has(id)) throw new EncryptionKeyError(`key ${name} appears twice; ids must be unique`, source);
    seen.add(id);
    const text = typeof encoded === 'string' ? encoded : '';
    const key = Buffer.from(text, 'base64');
    if (key.length !== KEY_BYTES || key.toString('base64') !== text.replace(/\s/g, ''))
      throw new EncryptionKeyError(
        `key ${name} is not ${KEY_BYTES} bytes of base64 (AES-256 needs exactly ${KEY_BYTES}); ${HOW}`,
        source,
      );
    return { id, key };
  });
}
