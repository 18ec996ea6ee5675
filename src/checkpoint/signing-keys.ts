/**
 * Checkpoint signing keys from resolved options: one key inline (`DFIT_CKPT_SIGNING_KEY=<id>:<secret>`)
 * or a keys file for rotation (`DFIT_CKPT_SIGNING_KEYS_FILE`). Read by entry points (worker, CLI,
 * plugin hosts through `createStore`), never from workflow input, so no secret reaches history.
 */
import { readFileSync } from 'node:fs';
import type { DurableFitOptions } from '../config/options';
import type { CheckpointSigning, SigningKey } from './signing';
import { createSigning } from './signing';
import { jsonErrorPlace, KEY_ID_PATTERN, keyName } from '../security/secret-safe';

/** The shape of a keys file: `sign` names the key that signs; every key in `keys` verifies. */
export interface SigningKeysFile {
  sign: string;
  keys: Record<string, string>;
}

type SigningOptions = Pick<
  DurableFitOptions,
  'ckptSigningKey' | 'ckptSigningKeysFile' | 'ckptAcceptUnsigned'
>;

/** The signing configuration the options describe, or undefined when no key is configured. */
export function signingFromOptions(options: SigningOptions): CheckpointSigning | undefined {
  const { ckptSigningKey: inline, ckptSigningKeysFile: file } = options;
  const accept = options.ckptAcceptUnsigned ?? false;
  if (inline && file) {
    throw new Error(
      'both DFIT_CKPT_SIGNING_KEY and DFIT_CKPT_SIGNING_KEYS_FILE are set: use one (the file holds several keys for rotation)',
    );
  }
  if (inline) {
    const key = parseInlineKey(inline);
    return createSigning([key], key.id, accept);
  }
  if (file) {
    const parsed = readKeysFile(file);
    const keys: SigningKey[] = Object.entries(parsed.keys).map(([id, secret]) => ({ id, secret }));
    try {
      return createSigning(keys, parsed.sign, accept);
    } catch (err) {
      throw new Error(`${file}: ${(err as Error).message}`);
    }
  }
  return undefined;
}

/**
 * `<keyId>:<secret>` (or `<keyId>=<secret>`) → a key. A key id holds neither ':' nor '=', so the
 * first of them ends it; the secret may hold both. No message quotes the value.
 */
export function parseInlineKey(value: string): SigningKey {
  const at = value.search(/[:=]/);
  const id = at > 0 ? value.slice(0, at) : '';
  if (!KEY_ID_PATTERN.test(id)) {
    throw new Error(
      'DFIT_CKPT_SIGNING_KEY must be <keyId>:<secret>, with a key id of 1-64 letters, digits, ".", "_" or "-", ' +
        'e.g. "ckpt-2026-01:$(openssl rand -hex 32)"',
    );
  }
  return { id, secret: value.slice(at + 1) };
}

function readKeysFile(file: string): SigningKeysFile {
  const shape = 'expected {"sign": "<keyId>", "keys": {"<keyId>": "<secret>", …}}';
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read checkpoint signing keys file ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    // Never the parser's message: it quotes the input around the error, i.e. a piece of a secret.
    throw new Error(`${file}: not valid JSON${jsonErrorPlace(err, text)}; ${shape}`);
  }
  if (typeof raw !== 'object' || raw === null) throw new Error(`${file}: not a JSON object; ${shape}`);
  const { sign, keys } = raw as { sign?: unknown; keys?: unknown };
  if (typeof sign !== 'string') throw new Error(`${file}: "sign" is not a key id; ${shape}`);
  if (typeof keys !== 'object' || keys === null || Array.isArray(keys))
    throw new Error(`${file}: "keys" is not an object; ${shape}`);
  Object.entries(keys).forEach(([id, secret], i) => {
    if (typeof secret !== 'string')
      throw new Error(`${file}: key ${keyName(id, `#${i + 1}`)} is not a string secret; ${shape}`);
  });
  return { sign, keys: keys as Record<string, string> };
}
