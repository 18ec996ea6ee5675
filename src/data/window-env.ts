/**
 * The shard window of a worker's trainers (stream.ts), set on the worker: `DFIT_DATASET_WINDOW`
 * (`64MB`, `1GiB`, or bytes). The trainer child reads it from its environment, which the worker
 * passes on (`DFIT_*`, trainer-env.ts). Unset: `DEFAULT_WINDOW_BYTES`.
 */
import { parseByteSize } from '../config/byte-size';

export const WINDOW_ENV = 'DFIT_DATASET_WINDOW';

/** The window `env` sets, if any; what is not a size is refused, naming the variable. */
export function windowBytesFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env[WINDOW_ENV];
  if (text === undefined || text === '') return undefined;
  const bytes = parseByteSize(text);
  if (bytes === undefined)
    throw new Error(`${WINDOW_ENV}="${text}" is not a size: use bytes or e.g. "64MB", "1GiB"`);
  return bytes;
}
