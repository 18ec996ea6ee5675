// `durable-fit data import <folder> --image-shape` against the real MinIO: PNG and JPEG files in
// class sub-folders (written with pngjs and jpeg-js) → a version whose inspect shows the classes,
// whose rows read back through the shard window with the right labels, shapes and pixels, and
// which the same folder imports to again; a damaged image is named and writes nothing.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { encode as encodeJpeg } from 'jpeg-js';
import { PNG } from 'pngjs';
import { DatasetStore } from '../../src/data/dataset-store';
import { streamOrder } from '../../src/data/order';
import { ShardWindow } from '../../src/data/stream';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { cli } from '../e2e/cli-helpers';
import { testStack } from '../helpers/stack-env';

const queue = 'unused-dataset-images';
const name = `images-${process.pid}`;

type Rgb = [number, number, number];

/** A 12 × 8 image, left half `left`, right half `right`, as PNG or JPEG bytes. */
function image(kind: 'png' | 'jpg', left: Rgb, right: Rgb): Buffer {
  const width = 12;
  const height = 8;
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) data.set([...(x < width / 2 ? left : right), 255], (y * width + x) * 4);
  if (kind === 'jpg') return encodeJpeg({ width, height, data }, 95).data;
  const png = new PNG({ width, height });
  png.data = data;
  return PNG.sync.write(png);
}

// Label, then the colours of the image's two halves; `dog` sorts after `cat`, so it is label 1.
const images: [string, 'png' | 'jpg', Rgb, Rgb][] = [
  ['dog/b.jpg', 'jpg', [0, 0, 255], [0, 0, 255]],
  ['cat/2.png', 'png', [0, 255, 0], [0, 255, 0]],
  ['cat/1.png', 'png', [255, 0, 0], [0, 0, 0]],
  ['dog/a.jpg', 'jpg', [255, 255, 255], [255, 255, 255]],
  ['cat/3.jpg', 'jpg', [102, 102, 102], [102, 102, 102]],
];

async function photos(files: [string, Buffer][]): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'dfit-dataset-images-'));
  for (const [file, bytes] of files) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), bytes);
  }
  return root;
}

test('a folder of PNG and JPEG classes: import, inspect, read back, import again', async () => {
  const root = await photos(images.map(([file, kind, l, r]) => [file, image(kind, l, r)]));
  // 4 × 6 × 3 floats + a label = 292 bytes a row: 600 bytes → 2 rows a shard, 3 shards.
  const args = ['data', 'import', root, '--name', name, '--image-shape', '4x6x3', '--shard-size', '600'];
  const imported = await cli([...args, '--json'], queue);
  assert.equal(imported.code, 0, imported.stderr);
  const summary = JSON.parse(imported.stdout) as {
    version: string;
    rows: number;
    shards: number;
    classes: string[];
    existed: boolean;
  };
  assert.deepEqual(
    [summary.rows, summary.shards, summary.classes, summary.existed],
    [5, 3, ['cat', 'dog'], false],
  );

  const inspect = await cli(['data', 'inspect', name], queue);
  assert.equal(inspect.code, 0, inspect.stderr);
  assert.match(inspect.stdout, /label column: label/);
  assert.match(inspect.stdout, /classes: 2: 0 cat, 1 dog/);
  assert.match(inspect.stdout, /image\s+float32\s+\[4,6,3\]/);
  assert.match(inspect.stdout, /label\s+int32\s+\[\]/);
  const json = JSON.parse((await cli(['data', 'inspect', name, '--json'], queue)).stdout) as {
    manifest: { classes: string[] };
  };
  assert.deepEqual(json.manifest.classes, ['cat', 'dog']);
  const verified = await cli(['data', 'verify', name], queue);
  assert.equal(verified.code, 0, verified.stderr);

  // Rows in import order: cat/1.png, cat/2.png, cat/3.jpg, dog/a.jpg, dog/b.jpg.
  const expected: [number, Rgb, Rgb, number][] = [
    [0, [255, 0, 0], [0, 0, 0], 0],
    [0, [0, 255, 0], [0, 255, 0], 0],
    [0, [102, 102, 102], [102, 102, 102], 3],
    [1, [255, 255, 255], [255, 255, 255], 3],
    [1, [0, 0, 255], [0, 0, 255], 6],
  ];
  const store = new DatasetStore(createMinioObjectClient(testStack().s3));
  const dataset = await store.resolve(name);
  assert.deepEqual(dataset.manifest.classes, ['cat', 'dog']);
  const order = streamOrder(
    dataset.manifest.shards.map((s) => s.rows),
    { seed: 3, epoch: 0, bufferSize: 4 },
  );
  let position = 0;
  for await (const batch of new ShardWindow(store, dataset, { windowBytes: 600 }).batches(order, 2)) {
    const pixels = batch.columns.get('image') as Float32Array;
    const labels = batch.columns.get('label') as Int32Array;
    assert.equal(pixels.length, batch.rows * 4 * 6 * 3);
    for (let r = 0; r < batch.rows; r++, position++) {
      const row = order[position] as number;
      const [label, left, right, tolerance] = expected[row] as (typeof expected)[number];
      assert.equal(labels[r], label, `row ${row}'s label`);
      // Columns 0-1 lie wholly in the left half after the 12 → 6 shrink, 4-5 in the right one.
      for (let y = 0; y < 4; y++)
        for (const [x, colour] of [
          [0, left],
          [5, right],
        ] as [number, Rgb][])
          for (let c = 0; c < 3; c++) {
            const value = pixels[((r * 4 + y) * 6 + x) * 3 + c] as number;
            assert.ok(
              Math.abs(value - (colour[c] as number) / 255) <= (tolerance + 0.5) / 255,
              `row ${row} (${y}, ${x}) channel ${c}: ${value * 255} ≠ ${colour[c]}`,
            );
          }
    }
  }
  assert.equal(position, 5);

  // The same folder gives the same version.
  const again = await cli([...args, '--json'], queue);
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(
    [
      (JSON.parse(again.stdout) as typeof summary).version,
      (JSON.parse(again.stdout) as typeof summary).existed,
    ],
    [summary.version, true],
  );
});

test('a damaged image is named and nothing is written; no --image-shape says what to pass', async () => {
  const good = image('png', [1, 2, 3], [4, 5, 6]);
  const root = await photos([
    ['cat/1.png', good],
    ['cat/3.png', good.subarray(0, good.length - 30)],
    ['dog/1.png', good],
  ]);
  const bad = `${name}-bad`;
  const r = await cli(['data', 'import', root, '--name', bad, '--image-shape', '8x8x1'], queue);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.includes(`${path.join(root, 'cat', '3.png')}: not a PNG image: `), r.stderr);
  const objects = createMinioObjectClient(testStack().s3);
  assert.deepEqual(await objects.list(`datasets/${bad}/`, { recursive: true }), []);

  const noShape = await cli(['data', 'import', root, '--name', bad], queue);
  assert.notEqual(noShape.code, 0);
  assert.match(noShape.stderr, /a folder of images .* pass --image-shape HxWxC/);
  const badShape = await cli(['data', 'import', root, '--name', bad, '--image-shape', '8x8'], queue);
  assert.notEqual(badShape.code, 0);
  assert.match(badShape.stderr, /image shape "8x8" is not HxWxC/);
});
