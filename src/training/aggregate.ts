/**
 * The outer step of data-parallel rounds, on decoded training states in the worker (no trainer, no
 * tfjs): float32 arithmetic in a fixed order, so a merge is bit-exact wherever it runs.
 *
 * Definitions (README: Data-parallel training), per weight element, every operation rounded to
 * float32 (Math.fround), shards summed in shard order 0..K-1:
 *   mean = (w_0 + w_1 + … + w_{K-1}) / K
 *   average:  g' = mean
 *   nesterov: d = g − mean;  v' = μ·v + d;  g' = g − lr·(d + μ·v')   (v starts at 0; kept in the
 *             global checkpoint as `outer/<weight>/momentum`)
 */
import type { NamedTensor, TrainingState } from '../state';
import { MODEL_PREFIX } from '../state';
import { computeWeightsSha256 } from './weights-hash';

/** Tensors of the outer optimizer's state in a global checkpoint. */
export const OUTER_PREFIX = 'outer/';

export interface OuterStep {
  optimizer: 'average' | 'nesterov';
  lr: number;
  momentum: number;
}

/**
 * A shard's start state for a round: its own previous state (optimizer slots, cursor, RNG, metrics)
 * with the model weights of the round's global checkpoint.
 */
export function composeShardStart(previous: TrainingState, global: TrainingState): TrainingState {
  const weights = new Map(modelTensors(global).map((t) => [t.name, t]));
  const tensors = previous.tensors.map((t) => {
    if (!t.name.startsWith(MODEL_PREFIX)) return t;
    const w = weights.get(t.name);
    if (!w || w.data.byteLength !== t.data.byteLength)
      throw new Error(`global checkpoint has no weight ${t.name} of this shape: is it from another model?`);
    return w;
  });
  return { tensors, meta: { ...previous.meta, weightsSha256: computeWeightsSha256(tensors) } };
}

/**
 * The next global state: the outer step applied to `global` and the shard states (in shard order).
 * Its metadata and non-weight tensors are shard 0's (a loadable `.ckpt`), plus the outer momentum.
 */
export function aggregateStates(
  global: TrainingState,
  shards: readonly TrainingState[],
  outer: OuterStep,
): TrainingState {
  const first = shards[0];
  if (!first) throw new Error('aggregate needs at least one shard result');
  const mean = meanWeights(shards);
  const next = new Map<string, NamedTensor>();
  const momentum: NamedTensor[] = [];
  for (const [name, m] of mean) {
    if (outer.optimizer === 'average') {
      next.set(name, withData(tensorNamed(first, name), m));
      continue;
    }
    const g = f32(tensorNamed(global, name));
    const v = global.tensors.find((t) => t.name === momentumName(name));
    const [w, v2] = nesterovStep(g, m, v ? f32(v) : new Float32Array(g.length), outer);
    next.set(name, withData(tensorNamed(first, name), w));
    momentum.push({ ...withData(tensorNamed(first, name), v2), name: momentumName(name) });
  }
  const tensors = [
    ...first.tensors.filter((t) => !t.name.startsWith(OUTER_PREFIX)).map((t) => next.get(t.name) ?? t),
    ...momentum,
  ];
  return { tensors, meta: { ...first.meta, weightsSha256: computeWeightsSha256(tensors) } };
}

/** Element-wise float32 mean of the shards' model weights, summed in shard order. */
function meanWeights(shards: readonly TrainingState[]): Map<string, Float32Array> {
  const sums = new Map<string, Float32Array>();
  for (const shard of shards) {
    for (const t of modelTensors(shard)) {
      const data = f32(t);
      const sum = sums.get(t.name);
      if (!sum) sums.set(t.name, Float32Array.from(data));
      else if (sum.length !== data.length) throw new Error(`shard weight ${t.name} differs in shape`);
      else
        for (let i = 0; i < sum.length; i++) sum[i] = Math.fround((sum[i] as number) + (data[i] as number));
    }
  }
  const k = shards.length;
  for (const sum of sums.values())
    for (let i = 0; i < sum.length; i++) sum[i] = Math.fround((sum[i] as number) / k);
  return sums;
}

function nesterovStep(
  g: Float32Array,
  mean: Float32Array,
  v: Float32Array,
  outer: OuterStep,
): [Float32Array, Float32Array] {
  const mu = Math.fround(outer.momentum);
  const lr = Math.fround(outer.lr);
  const w = new Float32Array(g.length);
  const v2 = new Float32Array(g.length);
  for (let i = 0; i < g.length; i++) {
    const d = Math.fround((g[i] as number) - (mean[i] as number));
    const vi = Math.fround(Math.fround(mu * (v[i] as number)) + d);
    v2[i] = vi;
    w[i] = Math.fround((g[i] as number) - Math.fround(lr * Math.fround(d + Math.fround(mu * vi))));
  }
  return [w, v2];
}

function momentumName(weight: string): string {
  return `${OUTER_PREFIX}${weight.slice(MODEL_PREFIX.length)}/momentum`;
}

function modelTensors(state: TrainingState): NamedTensor[] {
  return state.tensors.filter((t) => t.name.startsWith(MODEL_PREFIX));
}

function tensorNamed(state: TrainingState, name: string): NamedTensor {
  const t = state.tensors.find((x) => x.name === name);
  if (!t)
    throw new Error(`checkpoint has no tensor ${name}: the shards and the global are of different models`);
  return t;
}

function f32(t: NamedTensor): Float32Array {
  if (t.dtype !== 'F32')
    throw new Error(`weight ${t.name} is ${t.dtype}: only float32 weights can be merged`);
  // Copy (a view may be unaligned; a Buffer's slice() would not copy).
  const bytes = new Uint8Array(t.data.byteLength);
  bytes.set(t.data);
  return new Float32Array(bytes.buffer);
}

function withData(t: NamedTensor, data: Float32Array): NamedTensor {
  return { ...t, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}
