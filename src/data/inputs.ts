/**
 * What `data import` was given → the files to read, in a fixed order: a file; a folder (every
 * .csv, .jsonl, .ndjson and .parquet file under it, sorted by path); or a glob whose `*` and `?`
 * stand in its last path part (`data/part-*.csv`; a shell usually expands it first). A folder of
 * images is imported with `--image-shape` instead (images.ts); without it, it is refused saying so.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { DatasetInputError } from './errors';
import { IMAGE_SHAPE_HINT } from './images';

const TABLES = /\.(csv|jsonl|ndjson|parquet)$/i;
const IMAGES = /\.(png|jpe?g|gif|bmp|webp)$/i;

export async function expandInputs(inputs: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const input of inputs) {
    if (/[*?]/.test(input)) {
      files.push(...(await globFiles(input)));
      continue;
    }
    const info = await stat(input).catch(() => undefined);
    if (!info) throw new DatasetInputError(input, undefined, 'no such file or folder');
    if (info.isFile()) files.push(input);
    else files.push(...(await folderFiles(input)));
  }
  return files;
}

async function folderFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const all = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
  const tables = all.filter((f) => TABLES.test(f)).sort();
  if (tables.length > 0) return tables;
  if (all.some((f) => IMAGES.test(f)))
    throw new DatasetInputError(
      folder,
      undefined,
      `a folder of images (one sub-folder per class) is imported as images: ${IMAGE_SHAPE_HINT}`,
    );
  throw new DatasetInputError(folder, undefined, 'no .csv, .jsonl or .parquet files in it');
}

async function globFiles(pattern: string): Promise<string[]> {
  const dir = path.dirname(pattern);
  if (/[*?]/.test(dir))
    throw new DatasetInputError(pattern, undefined, 'only the last path part may hold * or ?');
  const escaped = path.basename(pattern).replace(/[.+^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`^${escaped.replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  const names = await readdir(dir).catch(() => [] as string[]);
  const files = names
    .filter((n) => re.test(n))
    .sort()
    .map((n) => path.join(dir, n));
  if (files.length === 0) throw new DatasetInputError(pattern, undefined, 'the glob matches no file');
  return files;
}
