/** Reading a history the way someone without the keys sees it: its payloads, and their text. */
import type { Payload } from '@temporalio/common';

const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString();

export interface FoundPayloads {
  encrypted: Payload[];
  clear: string[];
}

/**
 * Every payload in a history, except search attributes, headers and patch markers' ids (clear by
 * Temporal's design: the SDK core writes `patch-data` itself, and it holds only a patch name).
 */
export function collectPayloads(
  value: unknown,
  at = '',
  found: FoundPayloads = { encrypted: [], clear: [] },
): FoundPayloads {
  if (value === null || typeof value !== 'object' || value instanceof Uint8Array) return found;
  const object = value as Record<string, unknown>;
  if (object.metadata && typeof object.metadata === 'object' && object.data instanceof Uint8Array) {
    const payload = object as Payload;
    if (text(payload.metadata?.encoding) === 'binary/encrypted') found.encrypted.push(payload);
    else found.clear.push(`${at}: ${text(payload.data).slice(0, 60)}`);
    return found;
  }
  for (const [key, child] of Object.entries(object)) {
    if (/searchAttributes|^header$|^patch-data$/i.test(key)) continue;
    collectPayloads(child, `${at}.${key}`, found);
  }
  return found;
}

/** The payloads of `temporal workflow show -o json` (base64 in its output), decoded, with their encodings. */
export function shownPayloads(output: string): string {
  const texts: string[] = [];
  const walk = (value: unknown): void => {
    if (value === null || typeof value !== 'object') return;
    const { metadata, data } = value as { metadata?: Record<string, string>; data?: unknown };
    if (metadata && typeof data === 'string') {
      const encoding = Buffer.from(metadata.encoding ?? '', 'base64').toString();
      texts.push(`${encoding} ${Buffer.from(data, 'base64').toString()}`);
      return;
    }
    for (const [key, child] of Object.entries(value)) if (!/searchAttributes/i.test(key)) walk(child);
  };
  walk(JSON.parse(output));
  return texts.join('\n');
}

export function withoutSearchAttributes(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) =>
    /searchAttributes/i.test(key) ? undefined : v,
  );
}

/** The base64 `data` fields of a history's JSON, decoded, for text checks on payload contents. */
export function decodedText(value: unknown): string {
  const raw = JSON.stringify(withoutSearchAttributes(value));
  return [...raw.matchAll(/"data":"([A-Za-z0-9+/=]+)"/g)]
    .map((m) => Buffer.from(m[1] ?? '', 'base64').toString())
    .join('\n');
}
