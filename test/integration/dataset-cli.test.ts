// `durable-fit data …` against the real MinIO: import (CSV), ls, inspect, verify; a shard changed in
// the bucket is refused naming its key; bad input is named by file and row and writes nothing; a
// window streams the rows back in the seeded order.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { test } from 'node:test';
import { DatasetStore, shardKey } from '../../src/data/dataset-store';
import { streamOrder } from '../../src/data/order';
import { ShardWindow } from '../../src/data/stream';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { cli } from '../e2e/cli-helpers';
import { testStack } from '../helpers/stack-env';

const queue = 'unused-dataset-cli';
const name = `cli-${process.pid}`;

async function csvFile(text: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'dfit-dataset-cli-'));
  const file = path.join(dir, 'rows.csv');
  await writeFile(file, text);
  return file;
}

test('data import / ls / inspect / verify, a changed shard refused by its key', async () => {
  const rows = Array.from({ length: 300 }, (_, i) => `${i},${(i * 7) % 13},${i % 4}`);
  const file = await csvFile(`x,z,label\n${rows.join('\n')}\n`);
  const imported = await cli(
    ['data', 'import', file, '--name', name, '--label-column', 'label', '--shard-size', '1200', '--json'],
    queue,
  );
  assert.equal(imported.code, 0, imported.stderr);
  const summary = JSON.parse(imported.stdout) as { version: string; rows: number; shards: number };
  assert.equal(summary.rows, 300);
  assert.equal(summary.shards, 3); // 12 bytes a row, 100 rows a shard

  const ls = await cli(['data', 'ls', '--json'], queue);
  const listed = JSON.parse(ls.stdout) as { name: string; version: string }[];
  assert.ok(
    listed.some((d) => d.name === name && d.version === summary.version),
    ls.stdout,
  );
  const inspect = await cli(['data', 'inspect', `${name}@${summary.version.slice(0, 12)}`], queue);
  assert.match(inspect.stdout, /label\s+int32/);
  assert.match(inspect.stdout, /shard-00002\.parquet {2}100 rows/);
  const verified = await cli(['data', 'verify', name], queue);
  assert.equal(verified.code, 0, verified.stderr);
  assert.match(verified.stdout, /3 shards, 300 rows verified/);

  // Streams back from MinIO in the seeded order.
  const objects = createMinioObjectClient(testStack().s3);
  const store = new DatasetStore(objects);
  const dataset = await store.resolve(name);
  const order = streamOrder([100, 100, 100], { seed: 11, epoch: 0, bufferSize: 50 });
  const seen: number[] = [];
  for await (const batch of new ShardWindow(store, dataset, { windowBytes: 2400 }).batches(order, 32))
    seen.push(...(batch.columns.get('x') ?? []));
  assert.deepEqual(seen, [...order]);

  // One byte changed in the bucket: verify refuses the shard by its key.
  const key = shardKey(name, summary.version, 'shard-00001.parquet');
  const bytes = Buffer.from(await buffer(await objects.get(key)));
  bytes.writeUInt8(bytes.readUInt8(10) ^ 1, 10);
  await objects.put(key, bytes, { size: bytes.length });
  const refused = await cli(['data', 'verify', name], queue);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, new RegExp(`dataset shard ${key} does not match its manifest: its SHA-256`));
});

test('bad input: the file and row are named, and no version is written', async () => {
  const file = await csvFile('a,b\n1,2\n3,oops\n');
  const bad = `${name}-bad`;
  const r = await cli(['data', 'import', file, '--name', bad], queue);
  assert.notEqual(r.code, 0);
  assert.ok(r.stderr.includes(`${file}, row 3: column "b": "oops" is not a number`), r.stderr);
  const objects = createMinioObjectClient(testStack().s3);
  assert.deepEqual(await objects.list(`datasets/${bad}/`, { recursive: true }), []);
  const missing = await cli(['data', 'inspect', bad], queue);
  assert.match(missing.stderr, new RegExp(`no dataset ${bad} in bucket`));
});
