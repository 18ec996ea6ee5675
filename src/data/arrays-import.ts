/**
 * A dataset version from arrays already in memory (a generated dataset, a task's in-memory data
 * such as the `mnist` package's digits): cut into shards of `shardRows` rows and published as
 * `data import` does. Used by benchmarks and by tasks that ship their data.
 */
import { createHash } from 'node:crypto';
import type { DatasetStore } from './dataset-store';
import type { ColumnSpec, DatasetManifest, ShardEntry } from './manifest';
import { columnWidth, MANIFEST_FORMAT } from './manifest';
import type { ShardData } from './shard-codec';
import { encodeShard } from './shard-codec';

export async function publishArrays(
  store: DatasetStore,
  options: { name: string; columns: ColumnSpec[]; labelColumn?: string; shardRows: number },
  data: ShardData,
): Promise<{ version: string; manifest: DatasetManifest }> {
  const { columns, shardRows } = options;
  const encoded: Buffer[] = [];
  const shards: ShardEntry[] = [];
  for (let start = 0; start < data.rows; start += shardRows) {
    const rows = Math.min(shardRows, data.rows - start);
    const slice: ShardData = { rows, columns: new Map() };
    for (const column of columns) {
      const width = columnWidth(column);
      const values = data.columns.get(column.name);
      if (!values) throw new Error(`publishArrays: no values for column "${column.name}"`);
      slice.columns.set(column.name, values.subarray(start * width, (start + rows) * width));
    }
    const bytes = Buffer.from(encodeShard(columns, slice));
    const file = `shard-${String(shards.length).padStart(5, '0')}.parquet`;
    shards.push({
      file,
      rows,
      bytes: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    encoded.push(bytes);
  }
  const manifest: DatasetManifest = {
    format: MANIFEST_FORMAT,
    name: options.name,
    columns,
    ...(options.labelColumn !== undefined ? { labelColumn: options.labelColumn } : {}),
    rows: data.rows,
    shards,
  };
  const { version } = await store.publish(manifest, (i) => Promise.resolve(encoded[i] as Buffer));
  return { version, manifest };
}
