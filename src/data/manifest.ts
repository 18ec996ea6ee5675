/**
 * A dataset version: immutable Parquet shards plus this manifest, addressed by the manifest's
 * SHA-256 (`datasets/<name>/<version>/manifest.json`, version = the hash). The manifest lists the
 * columns (dtype and per-row shape) and every shard's rows, bytes and SHA-256; shard keys are
 * relative to the version's folder, so the manifest's bytes do not depend on where it is stored.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ManifestIntegrityError } from './errors';

export const MANIFEST_FORMAT = 'durable-fit-dataset/1';

/** `float32` columns hold features; `int32` ones hold class labels or ids. */
export const columnSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'column names: letters, digits, _ . - (1-128)'),
  dtype: z.enum(['float32', 'int32']),
  /** Per-row shape: `[]` for a scalar, `[28, 28, 1]` for an image. */
  shape: z.array(z.number().int().positive()),
});
export type ColumnSpec = z.infer<typeof columnSchema>;

export const shardEntrySchema = z.strictObject({
  /** File name inside the version's folder, e.g. `shard-00000.parquet`. */
  file: z.string().regex(/^shard-\d{5,}\.parquet$/),
  rows: z.number().int().positive(),
  bytes: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ShardEntry = z.infer<typeof shardEntrySchema>;

export const manifestSchema = z.strictObject({
  format: z.literal(MANIFEST_FORMAT),
  name: z.string(),
  columns: z.array(columnSchema).min(1),
  /** The column a task reads as its label, when the import named one. */
  labelColumn: z.string().optional(),
  /**
   * The label column's class names, label i being `classes[i]` (an image folder's sub-folders).
   * Absent in manifests written before it existed and in imports of tables.
   */
  classes: z.array(z.string().min(1)).min(1).optional(),
  rows: z.number().int().nonnegative(),
  shards: z.array(shardEntrySchema),
});
export type DatasetManifest = z.infer<typeof manifestSchema>;

/** A dataset name as it appears in keys and references: lower-case words joined by - or _. */
export function datasetNameProblem(name: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9_-]{0,62}$/.test(name))
    return 'use 1-63 lower-case letters, digits, - or _, starting with a letter or digit';
  return undefined;
}

/** Values in one row of a column: 1 for a scalar, the product of the shape otherwise. */
export function columnWidth(column: ColumnSpec): number {
  return column.shape.reduce((a, b) => a * b, 1);
}

/** Bytes of one decoded row (every dtype is 4 bytes wide). */
export function rowBytes(columns: readonly ColumnSpec[]): number {
  return columns.reduce((sum, c) => sum + 4 * columnWidth(c), 0);
}

/** The manifest's canonical bytes: the JSON of its fields in a fixed order, no spaces. */
export function manifestBytes(manifest: DatasetManifest): Buffer {
  const canonical = {
    format: manifest.format,
    name: manifest.name,
    columns: manifest.columns.map((c) => ({ name: c.name, dtype: c.dtype, shape: c.shape })),
    ...(manifest.labelColumn !== undefined ? { labelColumn: manifest.labelColumn } : {}),
    ...(manifest.classes !== undefined ? { classes: manifest.classes } : {}),
    rows: manifest.rows,
    shards: manifest.shards.map((s) => ({ file: s.file, rows: s.rows, bytes: s.bytes, sha256: s.sha256 })),
  };
  return Buffer.from(JSON.stringify(canonical), 'utf8');
}

/** The version of a manifest: the hex SHA-256 of its canonical bytes. */
export function manifestHash(manifest: DatasetManifest): string {
  return createHash('sha256').update(manifestBytes(manifest)).digest('hex');
}

/** Parses stored manifest bytes, checking that they hash to the version they are stored under. */
export function parseManifest(bytes: Buffer, expectedHash: string, key: string): DatasetManifest {
  const actual = createHash('sha256').update(bytes).digest('hex');
  if (actual !== expectedHash)
    throw new ManifestIntegrityError(key, `its SHA-256 is ${actual}, the version says ${expectedHash}`);
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ManifestIntegrityError(key, `it is not JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) throw new ManifestIntegrityError(key, z.prettifyError(parsed.error));
  const sum = parsed.data.shards.reduce((n, s) => n + s.rows, 0);
  if (sum !== parsed.data.rows)
    throw new ManifestIntegrityError(key, `its shards hold ${sum} rows, it says ${parsed.data.rows}`);
  return parsed.data;
}
