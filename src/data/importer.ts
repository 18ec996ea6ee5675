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
  if (files.length === 0) throw new Error('no input files: give a file, a folder or a glob');
  return stageAndPublish(store, options.name, (stageDir) => stageShards(files, options, stageDir));
}

/** What a staging pass hands back: the manifest's fields besides format, name and rows. */
export interface StagedImport {
  columns: ColumnSpec[];
  labelColumn?: string;
  classes?: string[];
  shards: ShardEntry[];
}

/**
 * Runs `stage` in a fresh local folder (it writes its shards there with a `ShardStager`), then
 * publishes them: shards, then the manifest (create-only), then `latest`. The folder is removed
 * either way, so a failed import leaves nothing behind locally or in the bucket.
 */
export async function stageAndPublish(
  store: DatasetStore,
  name: string,
  stage: (stageDir: string) => Promise<StagedImport>,
): Promise<ImportResult> {
  const problem = datasetNameProblem(name);
  if (problem) throw new Error(`dataset name "${name}": ${problem}`);
  const stageDir = await mkdtemp(path.join(os.tmpdir(), 'dfit-import-'));
  try {
    const staged = await stage(stageDir);
    const manifest: DatasetManifest = {
      format: MANIFEST_FORMAT,
      name,
      columns: staged.columns,
      ...(staged.labelColumn !== undefined ? { labelColumn: staged.labelColumn } : {}),
      ...(staged.classes !== undefined ? { classes: staged.classes } : {}),
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

/**
 * Rows → Parquet shard files in a staging folder, `shardSizeBytes` of decoded rows each. A row is
 * either a source row (`add`, checked value by value) or written in place: fill each column's
 * `slot`, then `commit`.
 */
export class ShardStager {
  readonly shards: ShardEntry[] = [];
  rows = 0;
  private readonly builder: ShardBuilder;

  constructor(
    private readonly stageDir: string,
    readonly columns: ColumnSpec[],
    shardSizeBytes = DEFAULT_SHARD_SIZE,
  ) {
    this.builder = new ShardBuilder(columns, Math.max(1, Math.floor(shardSizeBytes / rowBytes(columns))));
  }

  async add(file: string, source: SourceRow): Promise<void> {
    this.builder.add(file, source);
    await this.rowDone();
  }

  /** The next row's values of `column` (zeros), to fill before `commit`. */
  slot(column: string): ColumnValues {
    return this.builder.slot(column);
  }

  async commit(): Promise<void> {
    this.builder.rows++;
    await this.rowDone();
  }

  /** Writes the last, partly filled shard; the shards staged, in order. */
  async finish(): Promise<ShardEntry[]> {
    await this.flush();
    return this.shards;
  }

  private async rowDone(): Promise<void> {
    this.rows++;
    if (this.builder.full) await this.flush();
  }

  private async flush(): Promise<void> {
    const rows = this.builder.rows;
    if (rows === 0) return;
    const bytes = encodeShard(this.columns, this.builder.take());
    const file = `shard-${String(this.shards.length).padStart(5, '0')}.parquet`;
    await writeFile(path.join(this.stageDir, file), bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.shards.push({ file, rows, bytes: bytes.length, sha256 });
  }
}

async function stageShards(
  files: readonly string[],
  options: ImportOptions,
  stageDir: string,
): Promise<StagedImport> {
  let stager: ShardStager | undefined;
  let bytesBefore = 0;
  let rows = 0;
  for (const file of files) {
    let bytesRead = 0;
    for await (const source of readRows(file, (b) => (bytesRead = b))) {
      stager ??= new ShardStager(
        stageDir,
        inferColumns(file, source, options.labelColumn),
        options.shardSizeBytes,
      );
      await stager.add(file, source);
      rows++;
      if (rows % 1000 === 0) options.onProgress?.({ bytesRead: bytesBefore + bytesRead, rows });
    }
    bytesBefore += bytesRead;
  }
  const shards = (await stager?.finish()) ?? [];
  options.onProgress?.({ bytesRead: bytesBefore, rows });
  if (!stager || rows === 0) throw new DatasetInputError(files.join(', '), undefined, 'no rows');
  return {
    columns: stager.columns,
    ...(options.labelColumn !== undefined ? { labelColumn: options.labelColumn } : {}),
    shards,
  };
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

  /** The values of `column` in the row after the last one added. */
  slot(name: string): ColumnValues {
    const column = this.columns.find((c) => c.name === name);
    const values = this.data.get(name);
    if (!column || !values) throw new Error(`no column "${name}" in this shard`);
    const width = columnWidth(column);
    return values.subarray(this.rows * width, (this.rows + 1) * width);
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
