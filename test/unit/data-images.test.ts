// Image import (src/data/images.ts, image-resize.ts): the bilinear resize and the channel
// conversion by hand-worked values, the PNG / JPEG decoders' errors naming the file, the class
// folder's order and refusals, and an import into an in-memory bucket read back row by row.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetStore } from '../../src/data/dataset-store';
import { DatasetInputError } from '../../src/data/errors';
import { LUMA, resizeBilinear, toChannels } from '../../src/data/image-resize';
import { decodeImage, importImageFolder, listImageFolder, parseImageShape } from '../../src/data/images';
import { expandInputs } from '../../src/data/inputs';
import type { DatasetManifest } from '../../src/data/manifest';
import { MANIFEST_FORMAT, manifestBytes, manifestHash, parseManifest } from '../../src/data/manifest';
import { decodeShard } from '../../src/data/shard-codec';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';

const close = (actual: ArrayLike<number>, expected: readonly number[], tolerance = 1e-5) => {
  assert.equal(actual.length, expected.length, `length ${actual.length}, expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(
      Math.abs((actual[i] as number) - (expected[i] as number)) <= tolerance,
      `[${i}] ${actual[i]} ≠ ${expected[i]} (all: ${Array.from(actual).join(', ')})`,
    );
};

function resize(values: number[], size: [number, number, number], out: [number, number], scale = 1) {
  const [height, width, channels] = size;
  const result = new Float32Array(out[0] * out[1] * channels);
  resizeBilinear(
    Float32Array.from(values),
    { width, height, channels },
    { height: out[0], width: out[1] },
    result,
    scale,
  );
  return result;
}

/** RGBA bytes of a width × height image whose pixel (x, y) is `pixel(x, y)`. */
function rgbaOf(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]) {
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      data.set([r, g, b, 255], (y * width + x) * 4);
    }
  return data;
}

function pngBytes(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]) {
  const png = new PNG({ width, height });
  png.data = rgbaOf(width, height, pixel);
  return PNG.sync.write(png);
}

const jpegBytes = (
  width: number,
  height: number,
  pixel: (x: number, y: number) => [number, number, number],
) => encodeJpeg({ width, height, data: rgbaOf(width, height, pixel) }, 95).data;

async function tree(files: Record<string, Uint8Array | string>): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'dfit-images-'));
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), bytes);
  }
  return root;
}

describe('resize', () => {
  test('the same size copies the values (times the scale)', () => {
    const values = [1, 2, 3, 4, 5, 6];
    close(resize(values, [2, 3, 1], [2, 3]), values);
    close(resize(values, [1, 2, 3], [1, 2], 0.5), [0.5, 1, 1.5, 2, 2.5, 3]);
  });

  test('enlarging interpolates between pixel centres, edges clamped', () => {
    // 1×2 → 1×4: output centres fall at input x = 0.25, 0.75, 1.25, 1.75 (pixel i centred at i + 0.5).
    close(resize([0, 100], [1, 2, 1], [1, 4]), [0, 25, 75, 100]);
    // 2×2 → 4×4 is the same in both directions: row 1 is ¾ of row 0 plus ¼ of row 2's inputs.
    const out = resize([0, 100, 200, 40], [2, 2, 1], [4, 4]);
    close(out.subarray(0, 4), [0, 25, 75, 100]);
    close(out.subarray(12, 16), [200, 160, 80, 40]);
    close(out.subarray(4, 8), [50, 58.75, 76.25, 85]);
  });

  test('shrinking widens the triangle so every input pixel counts', () => {
    // 1×4 → 1×2: output 0's centre is at x = 1, half-width 2: weights ¾, ¾, ¼, 0 over pixels 0..3.
    close(resize([10, 20, 30, 40], [1, 4, 1], [1, 2]), [
      (0.75 * 10 + 0.75 * 20 + 0.25 * 30) / 1.75,
      (0.25 * 20 + 0.75 * 30 + 0.75 * 40) / 1.75,
    ]);
    // An isolated bright pixel still shows after shrinking 8-fold (plain 2-tap bilinear could skip it).
    const line = Array.from({ length: 16 }, (_, i) => (i === 3 ? 255 : 0));
    assert.ok((resize(line, [1, 16, 1], [1, 2])[0] as number) > 0);
  });

  test('a constant image stays constant at any size, channel by channel', () => {
    const values = Array.from({ length: 7 * 5 }, () => [10, 20, 30]).flat();
    for (const out of [
      [3, 2],
      [14, 9],
      [1, 1],
    ] as [number, number][]) {
      const resized = resize(values, [7, 5, 3], out);
      close(resized, Array.from({ length: out[0] * out[1] }, () => [10, 20, 30]).flat(), 1e-3);
    }
  });
});

describe('channels', () => {
  const rgba = Uint8Array.from([200, 100, 50, 255, 7, 7, 7, 0]);

  test('RGB → grey by the luma weights; a grey pixel keeps its value; alpha dropped', () => {
    close(toChannels(rgba, 2, 1), [LUMA[0] * 200 + LUMA[1] * 100 + LUMA[2] * 50, 7], 1e-4);
  });

  test('RGB stays RGB and grey becomes RGB by repeating it; alpha dropped', () => {
    close(toChannels(rgba, 2, 3), [200, 100, 50, 7, 7, 7]);
  });
});

describe('--image-shape', () => {
  test('HxWxC with C 1 or 3', () => {
    assert.deepEqual(parseImageShape('28x28x1'), [28, 28, 1]);
    assert.deepEqual(parseImageShape('64X32x3'), [64, 32, 3]);
    assert.throws(() => parseImageShape('28x28'), /is not HxWxC: pass --image-shape HxWxC.*28x28x1/);
    assert.throws(() => parseImageShape('28x28x4'), /channels must be 1 \(grey\) or 3 \(RGB\)/);
    assert.throws(() => parseImageShape('0x28x1'), /1 to 4096/);
  });
});

describe('decoders', () => {
  const pixel = (x: number, y: number): [number, number, number] => [x * 40, y * 60, 255 - x * 20];

  test('a PNG decodes to its exact pixels, a JPEG to within its loss', () => {
    const png = decodeImage('a.png', pngBytes(4, 3, pixel));
    assert.deepEqual([png.width, png.height], [4, 3]);
    assert.deepEqual(Array.from(png.rgba.subarray(4 * 5, 4 * 6)), [...pixel(1, 1), 255]);
    const flat = decodeImage(
      'a.jpg',
      jpegBytes(16, 8, () => [200, 100, 50]),
    );
    assert.deepEqual([flat.width, flat.height], [16, 8]);
    for (let i = 0; i < 16 * 8; i++) close(flat.rgba.subarray(i * 4, i * 4 + 3), [200, 100, 50], 4);
  });

  test('a damaged or mislabelled file is refused by its name', () => {
    const png = pngBytes(4, 3, pixel);
    const file = path.join('photos', 'cat', '3.png');
    const cut = () => decodeImage(file, png.subarray(0, png.length - 20));
    assert.throws(cut, DatasetInputError);
    assert.throws(
      cut,
      /^DatasetInputError: photos\/cat\/3\.png: not a PNG image: .*damaged or cut short.*nothing was imported$/,
    );
    assert.throws(
      () => decodeImage(file, Buffer.from('hello')),
      /3\.png: not a PNG image: it does not start with the PNG signature/,
    );
    assert.throws(
      () => decodeImage(file, jpegBytes(8, 8, pixel)),
      /3\.png: not a PNG image: its bytes are a JPEG image: give it the matching extension/,
    );
    const jpeg = jpegBytes(8, 8, pixel);
    assert.throws(
      () => decodeImage('d/1.jpg', jpeg.subarray(0, jpeg.length / 2)),
      /^DatasetInputError: d\/1\.jpg: not a JPEG image: /,
    );
  });

  test('a PNG larger than 100 megapixels is refused before it is decoded', () => {
    const png = pngBytes(2, 2, pixel);
    png.writeUInt32BE(20_000, 16);
    png.writeUInt32BE(10_000, 20);
    assert.throws(
      () => decodeImage('big.png', png),
      /big\.png: not a PNG image: 20000×10000 is more than 100 megapixels/,
    );
  });
});

describe('class folders', () => {
  test('classes are the sub-folders sorted; files sorted by path within each', async () => {
    const dot = pngBytes(1, 1, () => [0, 0, 0]);
    const root = await tree({
      'dog/b.jpg': jpegBytes(8, 8, () => [0, 0, 0]),
      'dog/a.png': dot,
      'cat/z/1.png': dot,
      'cat/2.png': dot,
      'cat/.DS_Store': 'x',
      'README.md': 'not an image, left alone',
    });
    const folder = await listImageFolder(root);
    assert.deepEqual(folder.classes, ['cat', 'dog']);
    assert.deepEqual(
      folder.files.map((f) => [path.relative(root, f.file), f.label]),
      [
        ['cat/2.png', 0],
        ['cat/z/1.png', 0],
        ['dog/a.png', 1],
        ['dog/b.jpg', 1],
      ],
    );
  });

  test('refusals name the file or folder and say what to do', async () => {
    const dot = pngBytes(1, 1, () => [0, 0, 0]);
    const top = await tree({ 'cat/1.png': dot, 'stray.png': dot });
    await assert.rejects(
      listImageFolder(top),
      /stray\.png: an image directly in .*, not in a class sub-folder: move it into/,
    );
    const empty = await tree({ 'cat/1.png': dot, 'dog/.keep': '' });
    await assert.rejects(
      listImageFolder(empty),
      /dog: class "dog" has no images: add PNG or JPEG files to it/,
    );
    const gif = await tree({ 'cat/1.png': dot, 'cat/2.gif': 'GIF89a' });
    await assert.rejects(
      listImageFolder(gif),
      /cat\/2\.gif: GIF images are not read \(PNG and JPEG are\): convert it to PNG/,
    );
    const flat = await tree({ 'a.png': dot });
    await assert.rejects(listImageFolder(flat), /a\.png: an image directly in/);
    const none = await tree({ 'notes.txt': 'x' });
    await assert.rejects(
      listImageFolder(none),
      /no class sub-folders in it: put each class's images in a sub-folder/,
    );
    const other = await tree({ 'cat/1.png': dot, 'cat/labels.csv': 'a\n' });
    await assert.rejects(listImageFolder(other), /labels\.csv: ".csv" is not .png, .jpg or .jpeg/);
  });

  test('without --image-shape, a folder of images is refused saying what to pass', async () => {
    const root = await tree({ 'cat/1.png': pngBytes(1, 1, () => [0, 0, 0]) });
    await assert.rejects(expandInputs([root]), /a folder of images .* pass --image-shape HxWxC.*28x28x1/);
  });
});

describe('image import', () => {
  async function rowsOf(store: DatasetStore, name: string) {
    const dataset = await store.resolve(name);
    const rows: { image: Float32Array; label: number }[] = [];
    for (const [i] of dataset.manifest.shards.entries()) {
      const data = await decodeShard(
        await store.readShard(dataset, i),
        dataset.manifest.columns,
        `shard ${i}`,
      );
      const images = data.columns.get('image') as Float32Array;
      const labels = data.columns.get('label') as Int32Array;
      const width = images.length / data.rows;
      for (let r = 0; r < data.rows; r++)
        rows.push({ image: images.slice(r * width, (r + 1) * width), label: labels[r] as number });
    }
    return { dataset, rows };
  }

  test('a class folder becomes image and label rows, 0..1, the classes in the manifest', async () => {
    const root = await tree({
      'zebra/1.png': pngBytes(2, 2, () => [255, 255, 255]),
      'ant/a.png': pngBytes(2, 2, (x) => (x === 0 ? [0, 0, 0] : [255, 0, 0])),
      'ant/b.jpg': jpegBytes(16, 16, () => [128, 128, 128]),
    });
    const client = createMemoryObjectClient();
    const store = new DatasetStore(client);
    const folder = await listImageFolder(root);
    const progress: number[] = [];
    const result = await importImageFolder(store, folder, {
      name: 'bugs',
      imageShape: [2, 2, 1],
      shardSizeBytes: 2 * (2 * 2 * 4 + 4), // two rows a shard
      onProgress: (p) => progress.push(p.rows),
    });
    assert.deepEqual(progress, [1, 2, 3]);
    assert.deepEqual(result.manifest.classes, ['ant', 'zebra']);
    assert.equal(result.manifest.labelColumn, 'label');
    assert.deepEqual(result.manifest.columns, [
      { name: 'image', dtype: 'float32', shape: [2, 2, 1] },
      { name: 'label', dtype: 'int32', shape: [] },
    ]);
    assert.deepEqual(
      result.manifest.shards.map((s) => s.rows),
      [2, 1],
    );
    const { dataset, rows } = await rowsOf(store, 'bugs');
    assert.deepEqual(dataset.manifest.classes, ['ant', 'zebra']);
    assert.deepEqual(
      rows.map((r) => r.label),
      [0, 0, 1],
    );
    close(rows[0]?.image ?? [], [0, LUMA[0], 0, LUMA[0]]); // red → its luma
    close(rows[1]?.image ?? [], [128 / 255, 128 / 255, 128 / 255, 128 / 255], 3 / 255); // a JPEG, shrunk 8-fold
    close(rows[2]?.image ?? [], [1, 1, 1, 1]);

    // The same folder again: the same version, already there.
    const again = await importImageFolder(store, await listImageFolder(root), {
      name: 'bugs',
      imageShape: [2, 2, 1],
      shardSizeBytes: 2 * (2 * 2 * 4 + 4),
    });
    assert.equal(again.version, result.version);
    assert.equal(again.existed, true);
  });

  test('RGB keeps the colours, a grey label column can be renamed', async () => {
    const root = await tree({ 'one/1.png': pngBytes(1, 1, () => [255, 0, 51]) });
    const store = new DatasetStore(createMemoryObjectClient());
    const result = await importImageFolder(store, await listImageFolder(root), {
      name: 'rgb',
      imageShape: [2, 3, 3],
      labelColumn: 'class',
    });
    assert.equal(result.manifest.labelColumn, 'class');
    const dataset = await store.resolve('rgb');
    const data = await decodeShard(await store.readShard(dataset, 0), dataset.manifest.columns, 'shard');
    close(data.columns.get('image') ?? [], Array.from({ length: 6 }, () => [1, 0, 0.2]).flat());
  });

  test('a damaged image stops the import by its name; nothing reaches the bucket', async () => {
    const good = pngBytes(2, 2, () => [1, 2, 3]);
    const root = await tree({ 'cat/1.png': good, 'cat/3.png': good.subarray(0, 40), 'dog/1.png': good });
    const client = createMemoryObjectClient();
    await assert.rejects(
      importImageFolder(new DatasetStore(client), await listImageFolder(root), {
        name: 'pets',
        imageShape: [2, 2, 1],
      }),
      (err: Error) =>
        err instanceof DatasetInputError &&
        err.message.startsWith(`${path.join(root, 'cat', '3.png')}: not a PNG image:`),
    );
    assert.equal(client.objects.size, 0);
  });
});

describe('manifest classes', () => {
  const base: DatasetManifest = {
    format: MANIFEST_FORMAT,
    name: 'old',
    columns: [{ name: 'x', dtype: 'float32', shape: [] }],
    rows: 0,
    shards: [],
  };

  test('a manifest without classes hashes and loads as before', () => {
    const bytes = manifestBytes(base);
    assert.equal(
      bytes.toString(),
      '{"format":"durable-fit-dataset/1","name":"old","columns":[{"name":"x","dtype":"float32","shape":[]}],"rows":0,"shards":[]}',
    );
    assert.deepEqual(parseManifest(bytes, manifestHash(base), 'k'), base);
  });

  test('classes are part of the version', () => {
    const withClasses = { ...base, labelColumn: 'x', classes: ['a', 'b'] };
    const bytes = manifestBytes(withClasses);
    assert.deepEqual(parseManifest(bytes, manifestHash(withClasses), 'k').classes, ['a', 'b']);
    assert.notEqual(manifestHash(withClasses), manifestHash({ ...withClasses, classes: ['b', 'a'] }));
  });
});
