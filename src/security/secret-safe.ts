/**
 * Error text about keys and credentials that holds none of them. Such errors reach terminals, logs
 * and (as failure messages) workflow history, so a message says where the problem is (a file, a
 * variable, a line or an entry) and what to do, never the value: not a prefix of a key, not the
 * snippet of input that `JSON.parse` quotes in its message, not an "id" that may be a pasted secret.
 */

/** A key id: a short name such as `k2` or `fleet-2026` (encryption and signing keys alike). */
export const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** An id this long may be a secret in the wrong place (32: the shortest signing secret accepted). */
const SECRET_LIKE_LENGTH = 32;

/**
 * How a message names a key: its id in quotes when that is a well-formed id shorter than a secret,
 * else `fallback` (its place, e.g. `entry 2`): a malformed or long "id" may be the key itself.
 */
export function keyName(id: unknown, fallback: string): string {
  const shown = typeof id === 'string' && KEY_ID_PATTERN.test(id) && id.length < SECRET_LIKE_LENGTH;
  return shown ? JSON.stringify(id) : fallback;
}

/**
 * Where `JSON.parse` stopped in `text` (` at line 3, column 12`), read from its error without the
 * input its message may quote; ` (it ends early)` for cut-short input; '' when it does not say.
 */
export function jsonErrorPlace(err: unknown, text: string): string {
  const message = err instanceof Error ? err.message : '';
  const at = /\bposition (\d+)/.exec(message);
  if (at) {
    const lines = text.slice(0, Number(at[1])).split('\n');
    return ` at line ${lines.length}, column ${(lines.at(-1)?.length ?? 0) + 1}`;
  }
  return /end of JSON input/i.test(message) ? ' (it ends early)' : '';
}
