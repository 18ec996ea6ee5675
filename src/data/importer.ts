/**
 * `data import`: rows from files → validated columns → Parquet shards staged on local disk →
 * published (shards, then the manifest, create-only, then the latest pointer). The first row fixes
 * the columns; any later row that lacks one, adds one, or holds a value that is not a number (an
 * integer for the label column) stops the import with the file and row, before anything is written
 * to the bucket.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { DatasetStore } from './dataset-store';
import { DatasetInputError } from './errors';
import type { ColumnSpec, DatasetManifest, ShardEntry } from './manifest';
import { columnWidth, datasetNameProblem, MANIFEST_FORMAT, rowBytes } from './manifest';
import type { ColumnValues, ShardData } from './shard-codec';
import { allocateColumn, encodeShard } from './shard-codec';
import type { RawValue, SourceRow } from './sources';
import { readRows } from './sources';

export interface ImportOptions {
  name: string;
  /** A column holding integer class labels (stored as int32). */
  labelColumn?: string;
  /** Decoded bytes per shard. @default 64 MB */
  shardSizeBytes?: number;
  /** Progress: input bytes read of all files, and rows so far. */
  onProgress?: (progress: { bytesRead: number; rows: number }) => void;
}

export interface ImportResult {
  version: string;
  manifest: DatasetManifest;
  /** The same rows were imported before: the version already existed. */
  existed: boolean;
}

export const DEFAULT_SHARD_SIZE = 64e6;

/** Imports `files` (read in the order given) as a new version of `options.name`. */
export async function importFiles(
  store: DatasetStore,
  files: readonly string[],
  options: ImportOptions,
): Promise<ImportResult> {
  const problem = datasetNameProblem(options.name);
  if (problem) throw new Error(`dataset name "${options.name}": ${problem}`);
  if (files.length === 0) throw new Error('no input files: give a file, a folder or a glob');
  const stageDir = await mkdtemp(path.join(os.tmpdir(), 'dfit-import-'));
  try {
    const staged = await stageShards(files, options, stageDir);
    const manifest: DatasetManifest = {
      format: MANIFEST_FORMAT,
      name: options.name,
      columns: staged.columns,
      ...(options.labelColumn !== undefined ? { labelColumn: options.labelColumn } : {}),
      rows: staged.shards.reduce((n, s) => n + s.rows, 0),
      shards: staged.shards,
    };
    const shardBytes = (i: number) => readFile(path.join(stageDir, staged.shards[i]?.file ?? ''));
    const { version, existed } = await store.publish(manifest, shardBytes);
    return { version, manifest, existed };
  } finally {
    await rm(stageDir, { recursive: true, force: true });
  }
}

async function stageShards(
  files: readonly string[],
  options: ImportOptions,
  stageDir: string,
): Promise<{ columns: ColumnSpec[]; shards: ShardEntry[] }> {
  let columns: ColumnSpec[] | undefined;
  let builder: ShardBuilder | undefined;
  const shards: ShardEntry[] = [];
  let bytesBefore = 0;
  let rows = 0;
  const flush = async () => {
    if (!builder || builder.rows === 0) return;
    const bytes = encodeShard(builder.columns, builder.take());
    const file = `shard-${String(shards.length).padStart(5, '0')}.parquet`;
    await writeFile(path.join(stageDir, file), bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    shards.push({ file, rows: rows - shards.reduce((n, s) => n + s.rows, 0), bytes: bytes.length, sha256 });
  };
  for (const file of files) {
    let bytesRead = 0;
    for await (const source of readRows(file, (b) => (bytesRead = b))) {
      if (!columns) {
        columns = inferColumns(file, source, options.labelColumn);
        const perShard = Math.max(
          1,
          Math.floor((options.shardSizeBytes ?? DEFAULT_SHARD_SIZE) / rowBytes(columns)),
        );
        builder = new ShardBuilder(columns, perShard);
      }
      builder?.add(file, source);
      rows++;
      if (builder?.full) await flush();
      if (rows % 1000 === 0) options.onProgress?.({ bytesRead: bytesBefore + bytesRead, rows });
    }
    bytesBefore += bytesRead;
  }
  await flush();
  options.onProgress?.({ bytesRead: bytesBefore, rows });
  if (!columns || rows === 0) throw new DatasetInputError(files.join(', '), undefined, 'no rows');
  return { columns, shards };
}

/** The columns the first row implies: numbers are float32 scalars, arrays float32 vectors. */
function inferColumns(file: string, first: SourceRow, labelColumn: string | undefined): ColumnSpec[] {
  if (labelColumn !== undefined && !first.values.has(labelColumn))
    throw new DatasetInputError(
      file,
      first.row,
      `no label column "${labelColumn}" (columns: ${[...first.values.keys()].join(', ')})`,
    );
  return [...first.values.entries()].map(([name, value]) => {
    if (!/^[A-Za-z0-9_.-]{1,128}$/.test(name))
      throw new DatasetInputError(file, first.row, `column name "${name}": use letters, digits, _ . -`);
    if (name === labelColumn) return { name, dtype: 'int32', shape: [] };
    const shape = Array.isArray(value) ? [value.length] : [];
    if (shape[0] === 0) throw new DatasetInputError(file, first.row, `column "${name}" is an empty array`);
    return { name, dtype: 'float32', shape };
  });
}

/** Rows of the shard being built, column by column. */
class ShardBuilder {
  rows = 0;
  private data: Map<string, ColumnValues>;

  constructor(
    readonly columns: ColumnSpec[],
    private readonly capacity: number,
  ) {
    this.data = this.fresh();
  }

  get full(): boolean {
    return this.rows >= this.capacity;
  }

  add(file: string, source: SourceRow): void {
    for (const key of source.values.keys())
      if (!this.columns.some((c) => c.name === key))
        throw new DatasetInputError(file, source.row, `column "${key}" is not in the first row's columns`);
    for (const column of this.columns) {
      if (!source.values.has(column.name))
        throw new DatasetInputError(file, source.row, `missing column "${column.name}"`);
      const target = this.data.get(column.name) as ColumnValues;
      writeValue(file, source.row, column, source.values.get(column.name), target, this.rows);
    }
    this.rows++;
  }

  take(): ShardData {
    const data: ShardData = { rows: this.rows, columns: new Map() };
    for (const column of this.columns) {
      const values = this.data.get(column.name) as ColumnValues;
      data.columns.set(column.name, values.subarray(0, this.rows * columnWidth(column)));
    }
    this.data = this.fresh();
    this.rows = 0;
    return data;
  }

  private fresh(): Map<string, ColumnValues> {
    return new Map(this.columns.map((c) => [c.name, allocateColumn(c, this.capacity)]));
  }
}

function writeValue(
  file: string,
  row: number,
  column: ColumnSpec,
  raw: RawValue,
  target: ColumnValues,
  index: number,
): void {
  const width = columnWidth(column);
  const values = Array.isArray(raw) ? raw : [raw];
  if (values.length !== width || (column.shape.length === 0) === Array.isArray(raw))
    throw new DatasetInputError(file, row, `column "${column.name}" must hold ${describe(column)}`);
  for (let i = 0; i < width; i++) {
    const value = toNumber(values[i]);
    if (value === undefined)
      throw new DatasetInputError(
        file,
        row,
        `column "${column.name}": ${JSON.stringify(values[i])} is not a number`,
      );
    if (column.dtype === 'int32' && !(Number.isInteger(value) && Math.abs(value) < 2 ** 31))
      throw new DatasetInputError(
        file,
        row,
        `label column "${column.name}": ${value} is not an integer class`,
      );
    target[index * width + i] = value;
  }
}

function toNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isFinite(raw) ? raw : undefined;
  if (typeof raw === 'bigint') return Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '') return undefined;
  const value = Number(raw);
  return Number.isFinite(value) ? value : undefined;
}

const describe = (c: ColumnSpec) =>
  c.shape.length === 0 ? 'one number' : `an array of ${columnWidth(c)} numbers`;
