/**
 * The native part of `npm start`: build the native TensorFlow backend when the cache lacks it
 * (with progress; seconds when cached, under a minute cold), and pick the demo task by what
 * will run. Without it the demo still runs, on wasm, and says how to build native.
 */
import type { DurableFitOptions } from '../src/config/options';
import { ensureNativeBuild, nativeCacheRoot, probeLoad } from '../src/native';
import { isGraphAddonCurrent } from '../src/native/graph-build';
import type { TrainingSpecInput } from '../src/spec';

/** mnist-cnn: what native TensorFlow trains in seconds an epoch (wasm has no conv gradients). */
export const CNN_SPEC: TrainingSpecInput = {
  task: 'mnist-cnn',
  epochs: 4,
  seed: 1,
  batchSize: 32,
  // 32 filters keep an epoch a few seconds long on graph-mode steps, so the kill lands mid-epoch.
  hparams: { trainSize: 9000, valSize: 1000, filters: 32, learningRate: 0.001 },
  checkpoint: { everyBatches: 40, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 4, backoffSeconds: 0 },
};

/** Builds/links native TF unless DFIT_BACKEND asks for a JS backend; true when it loads. */
export async function prepareNative(
  options: DurableFitOptions,
  say: (line: string) => void,
): Promise<boolean> {
  if (options.backend === 'wasm' || options.backend === 'cpu') return false;
  try {
    say('▸ native TensorFlow: checking the build (`durable-fit backend build`)');
    const result = await ensureNativeBuild({
      cacheRoot: nativeCacheRoot(options.toolsDir),
      progress: (line) => say(`  ${line}`),
    });
    const probe = probeLoad(result.manifest.package);
    if (!probe.loads) throw new Error(probe.loadError ?? 'it does not load');
    const graph = isGraphAddonCurrent(result.dir);
    say(
      graph
        ? `▸ workers will train on tensorflow-graph: native TensorFlow ${probe.tfVersion}, each training step ` +
            'one traced TensorFlow graph (the fastest backend measured here, docs/benchmarks.md)'
        : `▸ workers will train on tensorflow: native TensorFlow ${probe.tfVersion}, eager (graph addon not built)`,
    );
    return true;
  } catch (err) {
    say(`▸ native TensorFlow is not available: ${err instanceof Error ? err.message : String(err)}`);
    say('  The demo runs on wasm instead. To build native: `node bin/durable-fit.cjs backend build`.');
    return false;
  }
}
