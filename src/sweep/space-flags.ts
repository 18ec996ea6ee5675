/**
 * `--space name=…` flags → a sweep space: `hidden=64,128,256` (choices), `dropout=0.1..0.5` (a
 * range), `learningRate=log:1e-4..1e-2` (a log range), `units=int:8..64` (an integer range).
 */
import type { FailureKind } from '../failure-kind';
import type { SweepParam, SweepSpace } from '../contract/sweep';

export class InvalidSpaceError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'InvalidSpaceError';
}

export function parseSpace(flags: readonly string[]): SweepSpace {
  const space: SweepSpace = {};
  for (const flag of flags) {
    const eq = flag.indexOf('=');
    if (eq <= 0) throw new InvalidSpaceError(`--space ${flag}: write name=choices or name=min..max`);
    const name = flag.slice(0, eq).trim();
    if (name in space) throw new InvalidSpaceError(`--space ${name} is given twice`);
    space[name] = parseParam(name, flag.slice(eq + 1).trim());
  }
  return space;
}

function parseParam(name: string, text: string): SweepParam {
  const prefix = /^(log|int):/i.exec(text);
  const body = prefix ? text.slice(prefix[0].length) : text;
  const ends = body.split('..');
  if (ends.length === 2) {
    const [min, max] = ends.map((e) => (e.trim() === '' ? NaN : Number(e)));
    if (!Number.isFinite(min) || !Number.isFinite(max) || (min as number) > (max as number))
      throw new InvalidSpaceError(`--space ${name}=${text}: a range is min..max with numbers, min <= max`);
    const kind = prefix?.[1]?.toLowerCase();
    if (kind === 'log' && (min as number) <= 0)
      throw new InvalidSpaceError(`--space ${name}=${text}: a log range needs min > 0`);
    return {
      kind: 'range',
      min: min as number,
      max: max as number,
      ...(kind === 'log' ? { log: true } : {}),
      ...(kind === 'int' ? { integer: true } : {}),
    };
  }
  if (prefix || ends.length > 2)
    throw new InvalidSpaceError(`--space ${name}=${text}: write ${prefix?.[1] ?? 'log'}:min..max`);
  const values = text.split(',').map((v) => v.trim());
  if (values.some((v) => v === '')) throw new InvalidSpaceError(`--space ${name}=${text}: empty choice`);
  return { kind: 'choice', values: values.map(parseValue) };
}

function parseValue(v: string): number | string | boolean {
  if (v === 'true' || v === 'false') return v === 'true';
  const n = Number(v);
  return Number.isFinite(n) ? n : v;
}
