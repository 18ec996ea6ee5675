/**
 * Validation data from a dataset in the bucket (a task's `data.validation`, or the spec's
 * `validationDataset`): every row, in the dataset's stored order (shards in manifest order, rows in
 * order, no shuffle), read through the same shard window and the task's `transform` as its training
 * batches. The split it gives is held decoded in the trainer for the session's validation passes
 * (the window bounds the shards held while it is read, not the split itself).
 */
import type { DatasetStore, ResolvedDataset } from '../data/dataset-store';
import { columnWidth } from '../data/manifest';
import type { ColumnValues } from '../data/shard-codec';
import { ShardWindow } from '../data/stream';
import type { DatasetRow, DatasetSplit, TaskData } from './tasks/types';

/** Rows gathered per window batch while reading. */
const READ_ROWS = 1024;

export async function loadValidationSplit(
  store: DatasetStore,
  dataset: ResolvedDataset,
  data: Pick<TaskData<never>, 'columns' | 'transform'>,
  shapes: { inputShape: number[]; labelShape: number[] },
  windowBytes: number,
): Promise<DatasetSplit> {
  const size = dataset.manifest.rows;
  const xWidth = shapes.inputShape.reduce((a, b) => a * b, 1);
  const yWidth = shapes.labelShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(size * xWidth);
  const y = new Float32Array(size * yWidth);
  const window = new ShardWindow(store, dataset, { windowBytes, columns: data.columns });
  const order = Uint32Array.from({ length: size }, (_, i) => i);
  const columns = dataset.manifest.columns.filter((c) => data.columns.includes(c.name));
  let at = 0;
  for await (const batch of window.batches(order, READ_ROWS)) {
    for (let r = 0; r < batch.rows; r++, at++) {
      const row: Record<string, ColumnValues> = {};
      for (const column of columns) {
        const width = columnWidth(column);
        const values = batch.columns.get(column.name) as ColumnValues;
        row[column.name] = values.subarray(r * width, (r + 1) * width);
      }
      data.transform(
        row as DatasetRow,
        x.subarray(at * xWidth, (at + 1) * xWidth),
        y.subarray(at * yWidth, (at + 1) * yWidth),
      );
    }
  }
  return { x, y, size };
}
