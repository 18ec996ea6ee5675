/**
 * Model weights by stable names: `model/<layer weight name>`, e.g. `model/hidden/kernel`. tfjs's
 * own variable names get process-local suffixes (`hidden/kernel_3` in a warm process), so we use
 * each weight's original (scoped) name and insist that layers are named by the task.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import { IncompatibleTopologyError, diffTopology } from '../checkpoint/errors';
import type { NamedTensor } from '../state';
import { MODEL_PREFIX, safetensorsDType } from '../state';
import { TaskDefinitionError } from './errors';
import { fromNamedTensor, toNamedTensor } from './tensor-bytes';

/** The stable names of `model.weights`, in the model's order; checks they are usable. */
export function weightNamesOf(model: LayersModel, task: string): string[] {
  for (const layer of allLayers(model)) {
    if (new RegExp(`_${layer.getClassName()}\\d+$`).test(layer.name)) {
      throw new TaskDefinitionError(
        task,
        `layer "${layer.name}" has an automatic name; give every layer a name (name: '…') so ` +
          'checkpoints map weights by names that are the same in every process',
      );
    }
  }
  const names = model.weights.map((w) => w.originalName);
  const duplicate = names.find((n, i) => names.indexOf(n) !== i);
  if (duplicate) throw new TaskDefinitionError(task, `two weights are named "${duplicate}"`);
  return names;
}

/** Layers of the model, nested models included (their sublayers hold the weights). */
export function allLayers(model: LayersModel): LayersModel['layers'] {
  return model.layers.flatMap((layer) =>
    'layers' in layer ? [layer, ...allLayers(layer as LayersModel)] : [layer],
  );
}

/** Host copies of all model weights (trainable or not). */
export function captureModelWeights(model: LayersModel, names: readonly string[]): NamedTensor[] {
  return model.weights.map((w, i) => toNamedTensor(MODEL_PREFIX + names[i], w.read()));
}

/**
 * Writes checkpointed weights into the model. Assigns the variables directly: LayerVariable.write
 * would apply the layer's constraint again, which is not bitwise idempotent.
 */
export function restoreModelWeights(
  model: LayersModel,
  names: readonly string[],
  tensors: NamedTensor[],
): void {
  const saved = new Map(
    tensors.filter((t) => t.name.startsWith(MODEL_PREFIX)).map((t) => [t.name.slice(MODEL_PREFIX.length), t]),
  );
  const expected = model.weights.map((w, i) => ({
    name: names[i] as string,
    shape: w.shape as number[],
    dtype: safetensorsDType(w.dtype) ?? w.dtype,
  }));
  const actual = [...saved.values()].map((t) => ({
    name: t.name.slice(MODEL_PREFIX.length),
    shape: t.shape,
    dtype: t.dtype,
  }));
  const differences = diffTopology(expected, actual);
  if (differences.length > 0) throw new IncompatibleTopologyError(differences);
  model.weights.forEach((w, i) => {
    const tensor = fromNamedTensor(saved.get(names[i] as string) as NamedTensor);
    (w.read() as tf.Variable).assign(tensor);
    tensor.dispose();
  });
}
