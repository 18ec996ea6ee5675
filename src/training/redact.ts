/**
 * Masks secrets in text that leaves the worker: a trainer child's stderr reaches the worker log and,
 * as the tail of a crash report, the workflow history (readable in the Web UI). Masks the configured
 * secret values and anything shaped like a credential assignment (`AWS_SECRET_ACCESS_KEY=…`,
 * `"password": "…"`, `Authorization: Bearer …`), whatever printed it.
 */

/** What a masked value is replaced with. */
export const REDACTED = '***';

/** Configured values shorter than this are not masked by value (they would mask ordinary words). */
const MIN_SECRET_LENGTH = 6;

// An identifier naming a credential, an optional closing quote, `=` or `:`, then the value.
const ASSIGNMENT =
  /([A-Za-z0-9_.-]*(?:KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIALS?)[A-Za-z0-9_.-]*["']?\s*[=:]\s*)("[^"\n]*"|'[^'\n]*'|[^\s,;&"']+)/gi;
const AUTH_HEADER = /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{6,}/gi;

/** `text` with the `secrets` and credential-shaped assignments replaced by `***`. */
export function redactSecrets(text: string, secrets: readonly string[] = []): string {
  let out = text;
  const values = secrets.filter((s) => s.length >= MIN_SECRET_LENGTH).sort((a, b) => b.length - a.length);
  for (const value of values) out = out.split(value).join(REDACTED);
  out = out.replace(ASSIGNMENT, (_match, name: string) => `${name}${REDACTED}`);
  return out.replace(AUTH_HEADER, (_match, scheme: string) => `${scheme} ${REDACTED}`);
}

/**
 * The redacted last `max` characters of `text`, marked with `…` when cut. Redacts before it cuts,
 * so a secret is never split into a fragment that no longer matches.
 */
export function redactedTail(text: string, max: number, secrets: readonly string[] = []): string {
  const clean = redactSecrets(text, secrets).trim();
  return clean.length > max ? `…${clean.slice(-max)}` : clean;
}

/**
 * Pieces of configured secrets worth masking on their own: the whole value, and its parts when it
 * is a `<keyId>:<secret>` pair or a list of `id=key` lines (signing and encryption keys).
 */
export function secretFragments(values: readonly (string | undefined)[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (!value) continue;
    out.add(value);
    for (const part of value.split(/[\s,;:=]+/)) if (part.length >= 12) out.add(part);
  }
  return [...out];
}

/**
 * Forwards a stream of text as redacted whole lines, so a secret split across two chunks is still
 * masked. A line longer than `maxLine` without a newline is forwarded in pieces.
 */
export class RedactingLines {
  private pending = '';

  constructor(
    private readonly emit: (text: string) => void,
    private readonly secrets: readonly string[] = [],
    private readonly maxLine = 64 * 1024,
  ) {}

  push(chunk: string): void {
    this.pending += chunk;
    const end = this.pending.lastIndexOf('\n');
    if (end >= 0) {
      this.emit(redactSecrets(this.pending.slice(0, end + 1), this.secrets));
      this.pending = this.pending.slice(end + 1);
    }
    if (this.pending.length > this.maxLine) this.flush();
  }

  /** Forwards what is left (the child exited without a final newline). */
  flush(): void {
    if (this.pending) this.emit(redactSecrets(this.pending, this.secrets));
    this.pending = '';
  }
}
