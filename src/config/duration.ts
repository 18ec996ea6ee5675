/**
 * The one duration parser of every flag and environment variable: Temporal CLI units (`500ms`,
 * `30s`, `2m`, `1.5h`, and Go-style compounds such as `1h30m`, through the `ms` package) or a bare
 * number in the unit the setting always took (seconds for spec flags, milliseconds for env options).
 */
import ms from 'ms';
import type { StringValue } from 'ms';

const PART = /(\d+(?:\.\d+)?|\.\d+)\s*([a-zµ]+)/gi;

/** Milliseconds, or undefined when `text` is not a duration; a bare number counts as `bareUnit`. */
export function parseDurationMs(text: string, bareUnit: 'ms' | 's'): number | undefined {
  const value = text.trim();
  if (/^(\d+(\.\d+)?|\.\d+)$/.test(value)) return Number(value) * (bareUnit === 's' ? 1000 : 1);
  if (!new RegExp(`^(?:${PART.source}\\s*)+$`, 'i').test(value)) return undefined;
  let total = 0;
  for (const [, amount, unit] of value.matchAll(PART)) {
    const part = ms(`${amount}${unit}` as StringValue);
    if (typeof part !== 'number' || !Number.isFinite(part)) return undefined;
    total += part;
  }
  return total;
}
