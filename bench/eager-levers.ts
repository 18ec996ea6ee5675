/**
 * Eager levers for the native backend, tried by bench/profile-step.ts (issue 20, item 2). Each
 * installs an override on tfjs-node and returns the function that removes it; the engine uses none
 * of them yet. They change which TF kernels run, so a run's bits may change with them (the bench
 * says whether they did).
 */
import * as tf from '@tensorflow/tfjs-core';

interface OpOutput {
  id: number;
  shape: number[];
  dtype: number;
}
export interface NodeBinding {
  executeOp(name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number): OpOutput[];
  deleteTensor(id: number): void;
  TF_ATTR_STRING: number;
  TF_ATTR_BOOL: number;
  TF_ATTR_TYPE: number;
  TF_FLOAT: number;
}
interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}
interface NodeBackend {
  binding: NodeBinding;
  executeSingleOutput(name: string, attrs: OpAttr[], inputs: tf.Tensor[]): tf.Tensor;
}

/** tfjs-node's backend object (after `selectBackend('tensorflow')`). */
export function nodeBackend(): NodeBackend {
  const backend = tf.backend() as unknown as Partial<NodeBackend>;
  if (!backend.binding) throw new Error(`the active backend is ${tf.getBackend()}, not tensorflow`);
  return backend as NodeBackend;
}

type BindingFn = (...args: never[]) => unknown;

/**
 * Puts a proxy in front of the backend's binding with some of its functions replaced (a proxy over
 * an empty object: the addon's own properties are read-only). Returns the undo; undo in reverse order.
 */
export function overrideBinding(make: (original: NodeBinding) => Record<string, BindingFn>): () => void {
  const backend = nodeBackend();
  const original = backend.binding;
  const overrides = make(original);
  const lookup = original as unknown as Record<string | symbol, unknown>;
  backend.binding = new Proxy({} as NodeBinding, {
    get: (_target, key) => (typeof key === 'string' && key in overrides ? overrides[key] : lookup[key]),
  });
  return () => {
    backend.binding = original;
  };
}

/**
 * ReLU's gradient as TF's one `ReluGrad` op. tfjs computes `dy * step(x)`, and tfjs-node's Step
 * kernel is IsNan, Greater, two Fills and two Selects on the whole activation: seven eager ops.
 */
export function useReluGradOp(): () => void {
  const original = tf.getGradient('Relu');
  const backend = nodeBackend();
  const attrs = [{ name: 'T', type: backend.binding.TF_ATTR_TYPE, value: backend.binding.TF_FLOAT }];
  tf.unregisterGradient('Relu');
  tf.registerGradient({
    kernelName: 'Relu',
    inputsToSave: ['x'],
    gradFunc: (dy, saved) => ({
      x: () => nodeBackend().executeSingleOutput('ReluGrad', attrs, [dy as tf.Tensor, saved[0] as tf.Tensor]),
    }),
  });
  return () => {
    tf.unregisterGradient('Relu');
    if (original) tf.registerGradient(original);
  };
}

/**
 * MaxPool and MaxPoolGrad on oneDNN's kernels. TF's eager op rewrite sends Conv2D, its two
 * backprops and (Batch)MatMul to oneDNN but not pooling, which graph rewrites do; the oneDNN ops
 * are reachable by name with the `_kernel` label the rewrite itself sets. The forward op's
 * workspace output is kept for its gradient and freed with the forward output.
 */
export function useOnednnPooling(): () => void {
  const workspaces = new Map<number, number>();
  return overrideBinding((original) => {
    const extra = (attrs: OpAttr[]) => [
      ...attrs,
      { name: '_kernel', type: original.TF_ATTR_STRING, value: 'MklNameChangeOp' },
      { name: 'workspace_enabled', type: original.TF_ATTR_BOOL, value: false },
    ];
    const executeOp = (name: string, attrs: OpAttr[], inputIds: number[], numOutputs: number) => {
      if (name === 'MaxPool') {
        const [out, workspace] = original.executeOp('_MklNativeMaxPool', extra(attrs), inputIds, 2);
        if (!out || !workspace) throw new Error('_MklNativeMaxPool returned fewer than 2 outputs');
        workspaces.set(out.id, workspace.id);
        return [out];
      }
      const workspace = name === 'MaxPoolGrad' ? workspaces.get(inputIds[1] ?? -1) : undefined;
      if (workspace !== undefined)
        return original.executeOp('_MklNativeMaxPoolGrad', extra(attrs), [...inputIds, workspace], 1);
      return original.executeOp(name, attrs, inputIds, numOutputs);
    };
    const deleteTensor = (id: number) => {
      const workspace = workspaces.get(id);
      if (workspace !== undefined) {
        original.deleteTensor(workspace);
        workspaces.delete(id);
      }
      original.deleteTensor(id);
    };
    return { executeOp, deleteTensor };
  });
}

/** The levers by name, for `--levers`. */
export const LEVERS: Record<string, () => () => void> = {
  'relu-grad-op': useReluGradOp,
  'onednn-pool': useOnednnPooling,
  both: () => {
    const undo = [useReluGradOp(), useOnednnPooling()];
    return () => undo.reverse().forEach((u) => u());
  },
};
