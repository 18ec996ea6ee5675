/**
 * `CheckpointMeta` ⇄ safetensors `__metadata__` (a map of strings). Reserved keys carry the format
 * marker, version and kind; every meta field is stored under its own name as JSON, so a Python
 * reader sees e.g. `metadata["cursor"] == '{"epoch":3,...}'`. Non-finite floats and -0, which JSON
 * cannot hold, are written as `{"$float":"NaN"}` so metrics such as a NaN loss survive exactly.
 */
import { z } from 'zod';
import type { CheckpointMeta } from '../state';
import {
  CheckpointCorruptError,
  InvalidCheckpointStateError,
  NotACkptError,
  UnsupportedFormatVersionError,
} from './errors';
import { PAYLOAD_SHA256_KEY, PAYLOAD_SIGNATURE_KEY } from './payload-hash';

/** Value of `__metadata__.format` in every durable-fit checkpoint. */
export const CKPT_FORMAT_MARKER = 'durable-fit.ckpt';
/**
 * The layout version this code writes and the newest it reads. v2 adds `payload_sha256` (the file
 * verifies itself without object metadata); v1 files are still read.
 */
export const CHECKPOINT_FORMAT_VERSION = 2;
/** What a checkpoint holds: a full training state, or a tfjs model saved through `tf.io`. */
export type CheckpointKind = 'training-state' | 'model';

export const RESERVED_METADATA_KEYS = [
  'format',
  'format_version',
  'kind',
  PAYLOAD_SHA256_KEY,
  PAYLOAD_SIGNATURE_KEY,
] as const;

// z.number() refuses NaN and ±Infinity, which metrics and optimizer scalars may legitimately hold.
const anyNumber = z.custom<number>((v) => typeof v === 'number', 'expected a number');
const numbers = z.record(z.string(), anyNumber);
// The cursor names keys and batch offsets: a checkpoint is untrusted input (anyone with bucket write
// access can upload one), so a negative or fractional position is refused before it is used.
const cursorField = z.number().int('must be a non-negative integer').min(0, 'must be a non-negative integer');
const datasetBinding = z.strictObject({ name: z.string(), version: z.string().regex(/^[0-9a-f]{64}$/) });
const metaSchema = z.looseObject({
  task: z.string(),
  hparams: z.record(z.string(), z.unknown()),
  spec: z.record(z.string(), z.unknown()),
  topology: z.unknown(),
  optimizer: z.looseObject({
    className: z.string(),
    config: z.record(z.string(), z.unknown()),
    scalars: numbers,
  }),
  cursor: z.looseObject({
    epoch: cursorField,
    batch: cursorField,
    step: cursorField,
    batchesPerEpoch: cursorField,
  }),
  rng: z.unknown(),
  metrics: z.array(z.looseObject({ epoch: anyNumber })),
  fingerprints: z.looseObject({ topology: z.string(), task: z.string(), code: z.string() }),
  backend: z.looseObject({ name: z.string(), versions: z.record(z.string(), z.string()) }),
  weightsSha256: z.string(),
  createdAt: z.string(),
  dataset: datasetBinding.optional(),
  /** Absent in checkpoints written before validation could come from a dataset. */
  validationDataset: datasetBinding.optional(),
});

const SPECIAL_FLOATS: Readonly<Record<string, number>> = {
  NaN: NaN,
  Infinity: Infinity,
  '-Infinity': -Infinity,
  '-0': -0,
};

/** JSON that keeps NaN, ±Infinity and -0. */
export function stringifyExact(value: unknown): string | undefined {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'number' || (Number.isFinite(v) && !Object.is(v, -0))) return v;
    return { $float: Object.is(v, -0) ? '-0' : String(v) };
  });
}

/** Inverse of `stringifyExact`. */
export function parseExact(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const keys = Object.keys(v);
    const tag = (v as { $float?: unknown }).$float;
    if (keys.length === 1 && typeof tag === 'string' && tag in SPECIAL_FLOATS) return SPECIAL_FLOATS[tag];
    return v;
  });
}

/** Header metadata for a checkpoint of the given kind, plus extra string entries. */
export function markerMetadata(kind: CheckpointKind): Record<string, string> {
  return { format: CKPT_FORMAT_MARKER, format_version: String(CHECKPOINT_FORMAT_VERSION), kind };
}

/** `CheckpointMeta` → `__metadata__` strings. */
export function encodeMeta(meta: CheckpointMeta): Record<string, string> {
  const check = metaSchema.safeParse(meta);
  if (!check.success) throw new InvalidCheckpointStateError(`meta is incomplete: ${summarise(check.error)}`);
  const out = markerMetadata('training-state');
  for (const [key, value] of Object.entries(meta)) {
    if (key === 'formatVersion') continue;
    if ((RESERVED_METADATA_KEYS as readonly string[]).includes(key)) {
      throw new InvalidCheckpointStateError(`meta field "${key}" clashes with a reserved metadata key`);
    }
    const text = stringifyExact(value);
    if (text !== undefined) out[key] = text;
  }
  return out;
}

/**
 * Checks marker, version and kind; `target` names the file in errors. Returns the format version.
 */
export function checkMarker(
  metadata: Record<string, string>,
  kind: CheckpointKind,
  target = 'checkpoint',
): number {
  if (metadata.format !== CKPT_FORMAT_MARKER) {
    throw new NotACkptError(target, 'a safetensors file without the durable-fit format marker');
  }
  const version = Number(metadata.format_version);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new CheckpointCorruptError(
      'bad-metadata',
      `format_version ${JSON.stringify(metadata.format_version)}`,
    );
  }
  if (version > CHECKPOINT_FORMAT_VERSION)
    throw new UnsupportedFormatVersionError(version, CHECKPOINT_FORMAT_VERSION);
  if ((metadata.kind ?? 'training-state') !== kind) {
    const hint = metadata.kind === 'model' ? '; load it with tf.loadLayersModel' : '';
    throw new NotACkptError(target, `it holds a ${metadata.kind}, not a ${kind}${hint}`);
  }
  return version;
}

/** `__metadata__` strings → `CheckpointMeta`, validated. */
export function decodeMeta(metadata: Record<string, string>, target?: string): CheckpointMeta {
  const formatVersion = checkMarker(metadata, 'training-state', target);
  const entries: [string, unknown][] = [];
  for (const [key, text] of Object.entries(metadata)) {
    if ((RESERVED_METADATA_KEYS as readonly string[]).includes(key)) continue;
    try {
      entries.push([key, parseExact(text)]);
    } catch {
      throw new CheckpointCorruptError('bad-metadata', `__metadata__.${key} is not JSON`, target);
    }
  }
  // fromEntries defines own properties, so a hostile "__proto__" key cannot change the prototype.
  const fields: Record<string, unknown> = Object.fromEntries(entries);
  const check = metaSchema.safeParse(fields);
  if (!check.success) throw new CheckpointCorruptError('bad-metadata', summarise(check.error), target);
  return { ...(fields as Omit<CheckpointMeta, 'formatVersion'>), formatVersion };
}

function summarise(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
    .join('; ');
}
