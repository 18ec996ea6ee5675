/** Graph-mode training steps for the `tensorflow-graph` backends (see graph-driver.ts). */
import type { BackendInfo } from '../../state';
import { activePackageDir, isGraphBackend } from '../backend';
import type { EagerDriver, StepDriver } from '../step-driver';
import { loadGraphAddon } from './addon';
import { GraphDriver } from './graph-driver';

export { GraphUnsupportedError } from './errors';

/** The step driver factory for `backend`, or undefined when it trains eagerly. */
export function graphDriverFor(
  backend: BackendInfo,
  warn: (message: string) => void = (m) => process.stderr.write(`durable-fit: ${m}\n`),
): ((eager: EagerDriver) => StepDriver) | undefined {
  if (!isGraphBackend(backend.name)) return undefined;
  const addon = loadGraphAddon(activePackageDir());
  const gpu = backend.versions['tfjs-node-gpu'] !== undefined;
  const sessionConfig = sessionConfigProto(process.env, gpu);
  return (eager) => new GraphDriver(eager, { addon, sessionConfig, warn });
}

/**
 * A serialized ConfigProto with the thread counts the eager runtime uses (native-runtime.ts sets
 * them before TensorFlow loads), and on a GPU memory that grows: the eager context shares the card.
 * Fields: intra_op_parallelism_threads = 2, inter_op_parallelism_threads = 5, gpu_options = 6
 * (GPUOptions.allow_growth = 4).
 */
export function sessionConfigProto(env: NodeJS.ProcessEnv, gpu: boolean): Uint8Array {
  const threads = (value: string | undefined) => Math.max(0, Math.min(127, Number(value) || 0));
  const bytes = [0x10, threads(env.TF_NUM_INTRAOP_THREADS), 0x28, threads(env.TF_NUM_INTEROP_THREADS)];
  if (gpu) bytes.push(0x32, 2, 0x20, 1);
  return Uint8Array.from(bytes);
}
