/**
 * Rows of the files `data import` reads: CSV (a header row, then numbers), JSON Lines (one object
 * per line: numbers, or flat arrays of numbers for a tensor column) and Parquet (numeric columns, or
 * lists of numbers). Each row comes with its 1-based row number as an editor shows it (CSV and JSON
 * Lines: the line; Parquet: the row), so an error can name it. Values are checked by the importer.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { parquetReadObjects } from 'hyparquet';
import { DatasetInputError } from './errors';

export type RawValue = unknown;

export interface SourceRow {
  row: number;
  values: Map<string, RawValue>;
}

export type SourceFormat = 'csv' | 'jsonl' | 'parquet';

/** The format of a file, from its extension; throws naming the file when it is none we read. */
export function formatOf(file: string): SourceFormat {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  if (ext === '.parquet') return 'parquet';
  throw new DatasetInputError(file, undefined, `"${ext || 'no extension'}" is not .csv, .jsonl or .parquet`);
}

/** Reads a file's rows; `onBytes` hears how many bytes of the file were read so far. */
export async function* readRows(file: string, onBytes?: (bytes: number) => void): AsyncGenerator<SourceRow> {
  const format = formatOf(file);
  if (format === 'parquet') {
    yield* parquetRows(file);
    onBytes?.((await stat(file)).size);
    return;
  }
  const stream = createReadStream(file);
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  let header: string[] | undefined;
  for await (const text of lines) {
    line++;
    onBytes?.(stream.bytesRead);
    if (text.trim() === '') continue;
    if (format === 'jsonl') {
      yield { row: line, values: jsonRow(file, line, text) };
      continue;
    }
    const fields = splitCsvLine(text);
    if (!header) {
      header = fields.map((f) => f.trim());
      const dup = header.find((h, i) => header?.indexOf(h) !== i);
      if (dup !== undefined)
        throw new DatasetInputError(file, line, `the header names column "${dup}" twice`);
      continue;
    }
    if (fields.length !== header.length)
      throw new DatasetInputError(file, line, `${fields.length} fields, the header has ${header.length}`);
    yield { row: line, values: new Map(header.map((h, i) => [h, fields[i]])) };
  }
  if (!header && format === 'csv')
    throw new DatasetInputError(file, undefined, 'it is empty (no header row)');
}

function jsonRow(file: string, line: number, text: string): Map<string, RawValue> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DatasetInputError(file, line, `not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new DatasetInputError(file, line, 'not a JSON object');
  return new Map(Object.entries(parsed));
}

async function* parquetRows(file: string): AsyncGenerator<SourceRow> {
  let rows: Record<string, unknown>[];
  try {
    const bytes = await readFile(file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    rows = await parquetReadObjects({ file: buffer, utf8: true });
  } catch (err) {
    throw new DatasetInputError(file, undefined, `not a readable Parquet file (${(err as Error).message})`);
  }
  for (const [i, values] of rows.entries()) yield { row: i + 1, values: new Map(Object.entries(values)) };
}

/** Splits one CSV line on commas; a field in double quotes may hold commas and "" for a quote. */
export function splitCsvLine(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  fields.push(field);
  return fields;
}
