/**
 * `tabular-mlp-stream`'s descriptor (no tfjs: the client's catalog validates specs with it; the
 * model and data are in tabular-stream.ts). A dataset of a float32 vector column `features` and an
 * int32 column `label`, streamed from the bucket, through a one-hidden-layer MLP.
 */
import { z } from 'zod';
import { intInRange, optimizerHparams } from './hparams';
import type { TaskDescriptor } from './types';

const tabularHparams = z.object({
  /** `name` or `name@version` of a dataset with columns `features` (float32 [features]) and `label` (int32). */
  dataset: z.string().min(1).default('tabular'),
  /** Values in a row's `features` column (the model's input width); a row of another width is refused. */
  features: intInRange(1, 65_536).default(256),
  /** Labels are 0 … classes - 1. */
  classes: intInRange(2, 1000).default(10),
  hidden: intInRange(1, 65_536).default(32),
  /** In-memory validation rows from the linear teacher of `dataSeed` (tabular-stream.ts). */
  valSamples: intInRange(1, 100_000).default(256),
  dataSeed: z.number().int().default(7),
  ...optimizerHparams,
});

export const tabularMlpStreamDescriptor: TaskDescriptor<typeof tabularHparams> = {
  name: 'tabular-mlp-stream',
  description:
    'rows of float32 features + an int label streamed from a dataset, features → hidden (relu) → classes',
  hparams: tabularHparams,
  metricNames: ['accuracy'],
  streams: true,
};
