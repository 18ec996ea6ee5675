/**
 * `data import <folder> --image-shape HxWxC`: a folder whose sub-folders are the classes
 * (`photos/cat/1.png`, `photos/dog/2.jpg`) → rows of a float32 `image` column of shape [H, W, C]
 * with values 0..1 and an int32 label column holding the class's index among the sub-folder names
 * sorted. PNG (pngjs) and JPEG (jpeg-js) are read; images are converted to C channels and resized
 * (image-resize.ts) one at a time, straight into the shard being built. The class names go into
 * the manifest's `classes`.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { decode as decodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import type { DatasetStore } from './dataset-store';
import { DatasetInputError } from './errors';
import { resizeBilinear, toChannels } from './image-resize';
import type { ImportResult } from './importer';
import { ShardStager, stageAndPublish } from './importer';
import type { ColumnSpec } from './manifest';

/** [height, width, channels]; channels 1 is grey, 3 is RGB. */
export type ImageShape = [number, number, 1 | 3];

export const IMAGE_COLUMN = 'image';
export const DEFAULT_IMAGE_LABEL_COLUMN = 'label';

/** Images larger than this are refused before they are decoded (jpeg-js's own default). */
export const MAX_IMAGE_MEGAPIXELS = 100;

const READ = /\.(png|jpe?g)$/i;
const OTHER_IMAGES = /\.(gif|bmp|webp|tiff?|heic|heif|avif|ico|svg)$/i;

export const IMAGE_SHAPE_HINT =
  'pass --image-shape HxWxC, the shape every image is resized to: e.g. 28x28x1 (grey) or 64x64x3 (RGB)';

/** `28x28x1` → [28, 28, 1]; throws saying what to pass. */
export function parseImageShape(text: string): ImageShape {
  const m = /^(\d+)x(\d+)x(\d+)$/i.exec(text.trim());
  const [h, w, c] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
  if (h === undefined || w === undefined || c === undefined)
    throw new Error(`image shape "${text}" is not HxWxC: ${IMAGE_SHAPE_HINT}`);
  if (h < 1 || w < 1 || h > 4096 || w > 4096)
    throw new Error(`image shape "${text}": height and width must be 1 to 4096`);
  if (c !== 1 && c !== 3) throw new Error(`image shape "${text}": channels must be 1 (grey) or 3 (RGB)`);
  return [h, w, c];
}

export interface ImageFolder {
  folder: string;
  /** The class sub-folders' names, sorted: label i is classes[i]. */
  classes: string[];
  /** Every image, class by class, sorted by path within each. */
  files: { file: string; label: number }[];
}

const hidden = (name: string) => name.startsWith('.');

/**
 * The images of a class-folder tree, in import order. Refuses, naming the file or folder: an image
 * directly in the top folder, no class sub-folders, an empty class, a file that is not PNG or JPEG.
 * Other files in the top folder (a README, a licence) are left alone; hidden files are skipped.
 */
export async function listImageFolder(folder: string): Promise<ImageFolder> {
  const info = await stat(folder).catch(() => undefined);
  if (!info) throw new DatasetInputError(folder, undefined, 'no such folder');
  if (!info.isDirectory())
    throw new DatasetInputError(
      folder,
      undefined,
      'not a folder: --image-shape imports a folder with one sub-folder of images per class',
    );
  const classes: string[] = [];
  for (const entry of (await readdir(folder, { withFileTypes: true })).sort(byName)) {
    if (hidden(entry.name)) continue;
    const full = path.join(folder, entry.name);
    const isDir =
      entry.isDirectory() ||
      (entry.isSymbolicLink() && (await stat(full).catch(() => undefined))?.isDirectory() === true);
    if (isDir) classes.push(entry.name);
    else if (READ.test(entry.name) || OTHER_IMAGES.test(entry.name))
      throw new DatasetInputError(
        full,
        undefined,
        `an image directly in ${folder}, not in a class sub-folder: move it into ` +
          `${path.join(folder, '<class>')}/ (each sub-folder's name is a class)`,
      );
  }
  if (classes.length === 0)
    throw new DatasetInputError(
      folder,
      undefined,
      `no class sub-folders in it: put each class's images in a sub-folder named after the class (${path.join(folder, 'cat', '1.png')})`,
    );
  const files: ImageFolder['files'] = [];
  for (const [label, name] of classes.entries()) {
    const dir = path.join(folder, name);
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    const images = entries
      .filter((e) => (e.isFile() || e.isSymbolicLink()) && !hidden(e.name))
      .map((e) => path.join(e.parentPath, e.name))
      .sort();
    for (const file of images) {
      checkExtension(file);
      files.push({ file, label });
    }
    if (images.length === 0)
      throw new DatasetInputError(
        dir,
        undefined,
        `class "${name}" has no images: add PNG or JPEG files to it, or remove the folder`,
      );
  }
  return { folder, classes, files };
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function checkExtension(file: string): void {
  if (READ.test(file)) return;
  const ext = path.extname(file).toLowerCase();
  if (OTHER_IMAGES.test(file))
    throw new DatasetInputError(
      file,
      undefined,
      `${ext.slice(1).toUpperCase()} images are not read (PNG and JPEG are): convert it to PNG ` +
        `(e.g. \`magick ${path.basename(file)} ${path.basename(file, ext)}.png\`) or remove it`,
    );
  throw new DatasetInputError(
    file,
    undefined,
    `"${ext || 'no extension'}" is not .png, .jpg or .jpeg: class folders hold only images; move it out`,
  );
}

export interface DecodedImage {
  width: number;
  height: number;
  /** 4 bytes a pixel, row by row; grey images have R = G = B, JPEGs A = 255. */
  rgba: Uint8Array;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const startsWith = (bytes: Uint8Array, prefix: readonly number[]) => prefix.every((b, i) => bytes[i] === b);
const isPng = (bytes: Uint8Array) => startsWith(bytes, PNG_SIGNATURE);
const isJpeg = (bytes: Uint8Array) => startsWith(bytes, [0xff, 0xd8, 0xff]);

/** Decodes a PNG or JPEG (by the file's extension); a file that is not one is named. */
export function decodeImage(file: string, bytes: Buffer): DecodedImage {
  const png = /\.png$/i.test(file);
  const kind = png ? 'PNG' : 'JPEG';
  const fail = (detail: string) => new DatasetInputError(file, undefined, `not a ${kind} image: ${detail}`);
  if (png ? !isPng(bytes) : !isJpeg(bytes)) {
    const actually = isPng(bytes) ? 'a PNG' : isJpeg(bytes) ? 'a JPEG' : undefined;
    throw fail(
      actually
        ? `its bytes are ${actually} image: give it the matching extension`
        : `it does not start with the ${kind} signature (${bytes.length} bytes)`,
    );
  }
  let image: DecodedImage;
  try {
    if (png) {
      checkPngSize(bytes);
      const decoded = PNG.sync.read(bytes);
      image = { width: decoded.width, height: decoded.height, rgba: decoded.data };
    } else {
      const decoded = decodeJpeg(bytes, {
        useTArray: true,
        formatAsRGBA: true,
        maxResolutionInMP: MAX_IMAGE_MEGAPIXELS,
        maxMemoryUsageInMB: 1024,
      });
      image = { width: decoded.width, height: decoded.height, rgba: decoded.data };
    }
  } catch (err) {
    throw fail(`${(err as Error).message} (damaged or cut short? re-save it or remove it)`);
  }
  if (image.width < 1 || image.height < 1 || image.rgba.length < image.width * image.height * 4)
    throw fail(`it decodes to ${image.width}×${image.height} pixels and ${image.rgba.length} bytes`);
  return image;
}

/** Refuses a PNG whose header promises more than MAX_IMAGE_MEGAPIXELS, before decoding it. */
function checkPngSize(bytes: Buffer): void {
  if (bytes.length < 24) throw new Error('it ends before its header');
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width * height > MAX_IMAGE_MEGAPIXELS * 1e6)
    throw new Error(`${width}×${height} is more than ${MAX_IMAGE_MEGAPIXELS} megapixels`);
}

/** One image's bytes → `out` ([H, W, C] values 0..1): decoded, converted, resized. */
export function imageToPixels(file: string, bytes: Buffer, shape: ImageShape, out: Float32Array): void {
  const [height, width, channels] = shape;
  const image = decodeImage(file, bytes);
  const pixels = toChannels(image.rgba, image.width * image.height, channels);
  resizeBilinear(
    pixels,
    { width: image.width, height: image.height, channels },
    { width, height },
    out,
    1 / 255,
  );
}

export interface ImageImportOptions {
  name: string;
  imageShape: ImageShape;
  /** @default 'label' */
  labelColumn?: string;
  /** Decoded bytes per shard. @default 64 MB */
  shardSizeBytes?: number;
  /** Progress: bytes of image files read so far, and rows (images) so far. */
  onProgress?: (progress: { bytesRead: number; rows: number }) => void;
}

/** The columns an image import writes: `image` [H, W, C] float32 and the int32 label. */
export function imageColumns(shape: ImageShape, labelColumn: string): ColumnSpec[] {
  return [
    { name: IMAGE_COLUMN, dtype: 'float32', shape: [...shape] },
    { name: labelColumn, dtype: 'int32', shape: [] },
  ];
}

/** Imports the images of `folder` (from `listImageFolder`) as a new version of `options.name`. */
export async function importImageFolder(
  store: DatasetStore,
  folder: ImageFolder,
  options: ImageImportOptions,
): Promise<ImportResult> {
  const labelColumn = options.labelColumn ?? DEFAULT_IMAGE_LABEL_COLUMN;
  if (labelColumn === IMAGE_COLUMN || !/^[A-Za-z0-9_.-]{1,128}$/.test(labelColumn))
    throw new Error(
      `label column "${labelColumn}": use letters, digits, _ . - and a name other than "${IMAGE_COLUMN}"`,
    );
  if (folder.files.length === 0) throw new DatasetInputError(folder.folder, undefined, 'no images in it');
  const columns = imageColumns(options.imageShape, labelColumn);
  return stageAndPublish(store, options.name, async (stageDir) => {
    const stager = new ShardStager(stageDir, columns, options.shardSizeBytes);
    let bytesRead = 0;
    for (const { file, label } of folder.files) {
      const bytes = await readFile(file).catch((err: Error) => {
        throw new DatasetInputError(file, undefined, `cannot read it (${err.message})`);
      });
      imageToPixels(file, bytes, options.imageShape, stager.slot(IMAGE_COLUMN) as Float32Array);
      stager.slot(labelColumn)[0] = label;
      await stager.commit();
      bytesRead += bytes.length;
      options.onProgress?.({ bytesRead, rows: stager.rows });
    }
    return { columns, labelColumn, classes: folder.classes, shards: await stager.finish() };
  });
}
