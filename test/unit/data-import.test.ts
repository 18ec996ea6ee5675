// Dataset import and storage (src/data): CSV / JSON Lines / Parquet → shards + manifest in a bucket,
// bad input named by file and row with nothing written, shard SHA-256 checked on every read.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parquetWriteBuffer } from 'hyparquet-writer';
import {
  DatasetStore,
  latestKey,
  manifestKey,
  parseDatasetRef,
  shardKey,
} from '../../src/data/dataset-store';
import { DatasetInputError, DatasetNotFoundError, ShardIntegrityError } from '../../src/data/errors';
import { importFiles } from '../../src/data/importer';
import { expandInputs } from '../../src/data/inputs';
import { manifestHash } from '../../src/data/manifest';
import { decodeShard } from '../../src/data/shard-codec';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';

async function fileWith(name: string, text: string | Uint8Array): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-data-test-'));
  const file = path.join(dir, name);
  await writeFile(file, text);
  return file;
}

const csv = (rows: number) =>
  'a,b,label\n' + Array.from({ length: rows }, (_, i) => `${i},${i / 2},${i % 3}`).join('\n') + '\n';

async function allRows(store: DatasetStore, ref: string) {
  const dataset = await store.resolve(ref);
  const out: number[][] = [];
  for (const [i] of dataset.manifest.shards.entries()) {
    const data = await decodeShard(await store.readShard(dataset, i), dataset.manifest.columns, `shard ${i}`);
    for (let r = 0; r < data.rows; r++)
      out.push(dataset.manifest.columns.map((c) => data.columns.get(c.name)?.[r] as number));
  }
  return out;
}

describe('data import', () => {
  test('a CSV becomes shards of --shard-size and a manifest addressed by its hash', async () => {
    const client = createMemoryObjectClient();
    const store = new DatasetStore(client);
    const file = await fileWith('t.csv', csv(25));
    // 3 columns × 4 bytes = 12 bytes a row: 120 bytes → 10 rows a shard.
    const result = await importFiles(store, [file], {
      name: 'tab',
      labelColumn: 'label',
      shardSizeBytes: 120,
    });
    assert.equal(result.version, manifestHash(result.manifest));
    assert.deepEqual(
      result.manifest.shards.map((s) => s.rows),
      [10, 10, 5],
    );
    assert.deepEqual(result.manifest.columns, [
      { name: 'a', dtype: 'float32', shape: [] },
      { name: 'b', dtype: 'float32', shape: [] },
      { name: 'label', dtype: 'int32', shape: [] },
    ]);
    assert.ok(client.objects.has(manifestKey('tab', result.version)));
    assert.ok(client.objects.has(latestKey('tab')));
    const rows = await allRows(store, 'tab');
    assert.deepEqual(rows[7], [7, 3.5, 1]);
    assert.equal(rows.length, 25);
    assert.equal((await store.resolve(`tab@${result.version.slice(0, 10)}`)).version, result.version);
    // The same rows again: the same version, nothing new.
    const again = await importFiles(store, [file], {
      name: 'tab',
      labelColumn: 'label',
      shardSizeBytes: 120,
    });
    assert.equal(again.version, result.version);
    assert.equal(again.existed, true);
  });

  test('JSON Lines with an array column, and Parquet, import the same values', async () => {
    const store = new DatasetStore(createMemoryObjectClient());
    const lines = [0, 1, 2].map((i) => JSON.stringify({ x: [i, i + 0.25, -i], y: i })).join('\n');
    const jsonl = await importFiles(store, [await fileWith('t.jsonl', lines)], {
      name: 'js',
      labelColumn: 'y',
    });
    assert.deepEqual(jsonl.manifest.columns[0], { name: 'x', dtype: 'float32', shape: [3] });
    const dataset = await store.resolve('js');
    const data = await decodeShard(await store.readShard(dataset, 0), dataset.manifest.columns, 's');
    assert.deepEqual([...(data.columns.get('x') ?? [])], [0, 0.25, 0, 1, 1.25, -1, 2, 2.25, -2]);
    const parquet = parquetWriteBuffer({
      columnData: [
        { name: 'f', data: [1.5, 2.5], type: 'DOUBLE' },
        { name: 'k', data: [4, 5], type: 'INT32' },
      ],
    });
    await importFiles(store, [await fileWith('t.parquet', new Uint8Array(parquet))], {
      name: 'pq',
      labelColumn: 'k',
    });
    assert.deepEqual(await allRows(store, 'pq'), [
      [1.5, 4],
      [2.5, 5],
    ]);
  });

  test('bad input names the file and row, and writes nothing', async () => {
    const cases: [string, string, RegExp][] = [
      ['ragged.csv', 'a,b\n1,2\n3\n', /ragged\.csv, row 3: 1 fields, the header has 2/],
      ['text.csv', 'a,b\n1,2\n3,x\n', /text\.csv, row 3: column "b": "x" is not a number/],
      ['empty-field.csv', 'a,b\n1,\n', /row 2: column "b": "" is not a number/],
      ['missing.jsonl', '{"a":1,"b":2}\n{"a":3}\n', /missing\.jsonl, row 2: missing column "b"/],
      ['extra.jsonl', '{"a":1}\n{"a":3,"c":1}\n', /row 2: column "c" is not in the first row's columns/],
      ['short.jsonl', '{"a":[1,2]}\n{"a":[3]}\n', /row 2: column "a" must hold an array of 2 numbers/],
      ['label.csv', 'a,label\n1,0\n2,0.5\n', /row 3: label column "label": 0.5 is not an integer class/],
      ['nolabel.csv', 'a,b\n1,2\n', /row 2: no label column "label"/],
    ];
    for (const [name, text, message] of cases) {
      const client = createMemoryObjectClient();
      const file = await fileWith(name, text);
      await assert.rejects(
        importFiles(new DatasetStore(client), [file], {
          name: 'bad',
          labelColumn: name.startsWith('label') || name.startsWith('nolabel') ? 'label' : undefined,
        }),
        (err: unknown) =>
          err instanceof DatasetInputError && message.test(err.message) && err.message.includes(file),
      );
      assert.equal(client.objects.size, 0, `${name}: nothing in the bucket`);
    }
    await assert.rejects(
      importFiles(new DatasetStore(createMemoryObjectClient()), [await fileWith('a.txt', '1')], {
        name: 'x',
      }),
      /a\.txt: "\.txt" is not \.csv, \.jsonl or \.parquet/,
    );
  });

  test('a shard whose bytes changed is refused naming its key; a missing version is named', async () => {
    const client = createMemoryObjectClient();
    const store = new DatasetStore(client);
    const { version } = await importFiles(store, [await fileWith('t.csv', csv(4))], { name: 'sha' });
    const key = shardKey('sha', version, 'shard-00000.parquet');
    const stored = client.objects.get(key);
    assert.ok(stored);
    const body = Buffer.from(stored.body);
    body.writeUInt8(body.readUInt8(body.length - 20) ^ 0xff, body.length - 20);
    stored.body = body;
    const dataset = await store.resolve('sha');
    await assert.rejects(
      store.readShard(dataset, 0),
      (err: unknown) =>
        err instanceof ShardIntegrityError && err.message.includes(key) && /SHA-256/.test(err.message),
    );
    await assert.rejects(store.resolve('nope'), DatasetNotFoundError);
    await assert.rejects(store.resolve('sha@0123456789abcdef'), DatasetNotFoundError);
  });

  test('shards without a manifest are not a version', async () => {
    const client = createMemoryObjectClient();
    const store = new DatasetStore(client);
    const { version } = await importFiles(store, [await fileWith('t.csv', csv(3))], { name: 'half' });
    client.objects.delete(manifestKey('half', version));
    assert.deepEqual(await store.versions('half'), []);
    await assert.rejects(store.resolve(`half@${version}`), DatasetNotFoundError);
  });

  test('references: name or name@hex version', () => {
    assert.deepEqual(parseDatasetRef('mnist'), { name: 'mnist' });
    assert.deepEqual(parseDatasetRef('mnist@deadbeef'), { name: 'mnist', version: 'deadbeef' });
    assert.throws(() => parseDatasetRef('Mnist'), /lower-case/);
    assert.throws(() => parseDatasetRef('mnist@latest'), /name@version/);
  });

  test('inputs: a folder gives its tables sorted, a glob its matches; a folder of images asks for --image-shape', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-inputs-'));
    await mkdir(path.join(dir, 'sub'));
    for (const f of ['b.csv', 'a.jsonl', 'sub/c.parquet', 'notes.txt'])
      await writeFile(path.join(dir, f), '');
    assert.deepEqual(
      await expandInputs([dir]),
      ['a.jsonl', 'b.csv', 'sub/c.parquet'].map((f) => path.join(dir, f)),
    );
    assert.deepEqual(await expandInputs([path.join(dir, '*.csv')]), [path.join(dir, 'b.csv')]);
    await assert.rejects(expandInputs([path.join(dir, '*.tsv')]), /the glob matches no file/);
    const images = await mkdtemp(path.join(os.tmpdir(), 'dfit-images-'));
    await mkdir(path.join(images, 'cat'));
    await writeFile(path.join(images, 'cat', '1.png'), '');
    await assert.rejects(expandInputs([images]), /a folder of images .* pass --image-shape HxWxC/);
  });
});
