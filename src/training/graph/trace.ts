/**
 * Traces one training step: runs it eagerly under the recorder and says what each recorded piece
 * is — a read or an update of a training variable, the batch, a dropout layer's random draw, or a
 * constant. Two traces of different batches and seeds must agree on everything else, or the step
 * feeds per-step values from JavaScript that a graph would freeze: then it is not traceable.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { EagerDriver, StepBatch } from '../step-driver';
import { GraphUnsupportedError } from './errors';
import type { CreatedNode, NodeBackend, RecordedNode } from './recorder';
import { handleId, record } from './recorder';

/** What a created tensor is to the step. */
export type Role = { kind: 'x' } | { kind: 'y' } | { kind: 'random'; layer: number } | { kind: 'const' };

export interface Trace {
  nodes: RecordedNode[];
  roles: Map<number, Role>;
  /** Handle id → variable name, for the variables as the step began. */
  reads: Map<number, string>;
  /** Variable name → the handle id it holds after the step (only those the step replaced). */
  updates: Map<string, number>;
  lossId: number;
  variables: Map<string, tf.Variable>;
}

/** Runs the batch's step eagerly under the recorder (it changes the variables: restore them). */
export function traceStep(backend: NodeBackend, eager: EagerDriver, batch: StepBatch): Trace {
  const variables = new Map(Object.entries(tf.engine().registeredVariables));
  const reads = new Map([...variables].map(([name, v]) => [handleId(backend, v), name]));
  const recording = record(backend, () => {
    const cost = eager.cost(batch);
    const id = handleId(backend, cost);
    cost.dispose();
    return id;
  });
  if (recording.dataReads.length)
    throw new GraphUnsupportedError(
      recording.dataReads[0] as string,
      'has its result read back into JavaScript mid-step (a graph would freeze the value)',
    );
  const added = Object.keys(tf.engine().registeredVariables).filter((name) => !variables.has(name));
  if (added.length)
    throw new GraphUnsupportedError(
      `variable ${added[0]}`,
      'is created by the step (a graph cannot create variables)',
    );
  const updates = new Map<string, number>();
  for (const [name, v] of variables) {
    const info = backend.tensorMap.get(v.dataId);
    if (info.values != null)
      throw new GraphUnsupportedError(`variable ${name}`, 'is set from JavaScript values');
    if (!reads.has(info.id)) updates.set(name, info.id);
  }
  const roles = classify(recording.nodes, batch, eager.layerSeeds(batch.stepSeed));
  return { nodes: recording.nodes, roles, reads, updates, lossId: recording.result, variables };
}

function classify(nodes: readonly RecordedNode[], batch: StepBatch, seeds: number[]): Map<number, Role> {
  const roles = new Map<number, Role>();
  const unmatched = new Set(seeds.keys());
  for (const node of nodes) {
    if (node.kind !== 'create') continue;
    if (sameValues(node.values, batch.x)) roles.set(node.id, { kind: 'x' });
    else if (sameValues(node.values, batch.y)) roles.set(node.id, { kind: 'y' });
    else {
      const layer = [...unmatched].find((i) => isUniformDraw(node, seeds[i] as number));
      if (layer === undefined) roles.set(node.id, { kind: 'const' });
      else {
        unmatched.delete(layer);
        roles.set(node.id, { kind: 'random', layer });
      }
    }
  }
  return roles;
}

/** Whether `node` holds tfjs's `randomUniform(shape, 0, 1, 'float32', seed)`: a dropout mask's draw. */
function isUniformDraw(node: CreatedNode, seed: number): boolean {
  if (!(node.values instanceof Float32Array) || node.values.length === 0) return false;
  const draw = tf.tidy(() => tf.randomUniform(node.shape, 0, 1, 'float32', seed).dataSync());
  return sameValues(node.values, draw as Float32Array);
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true;
  if (a.length !== b.length || a.constructor !== b.constructor) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

/**
 * Throws `GraphUnsupportedError` naming the first op where two traces of the same step (other
 * batch, other seeds) differ in anything but the batch and the random draws.
 */
export function checkSameStep(a: Trace, b: Trace): void {
  const sa = signatures(a);
  const sb = signatures(b);
  const i = sa.findIndex((signature, k) => signature !== sb[k]);
  const at = i >= 0 ? i : sa.length < sb.length ? sa.length : -1;
  if (at < 0) return;
  const [trace, index] = at < a.nodes.length ? [a, at] : [b, at];
  throw new GraphUnsupportedError(
    `op ${consumerOf(trace, index)}`,
    'differs from step to step (its inputs, its attributes or the ops before it)',
  );
}

function signatures(trace: Trace): string[] {
  const producer = new Map<number, string>();
  return trace.nodes.map((node, i) => {
    if (node.kind === 'create') {
      producer.set(node.id, `c${i}`);
      const role = trace.roles.get(node.id) as Role;
      const content = role.kind === 'const' ? Array.from(node.values).join(',') : JSON.stringify(role);
      return `create ${node.dtype} [${node.shape.join(',')}] ${content}`;
    }
    node.outputs.forEach((id, k) => producer.set(id, `n${i}:${k}`));
    const inputs = node.inputs.map((id) => producer.get(id) ?? `v:${trace.reads.get(id) ?? `pre${id}`}`);
    return `${node.type} ${JSON.stringify(node.attrs)} (${inputs.join(' ')})`;
  });
}

/** The op that consumes node `i` (or node `i` itself when it is an op). */
function consumerOf(trace: Trace, i: number): string {
  const node = trace.nodes[i] as RecordedNode;
  if (node.kind === 'op') return node.type;
  const user = trace.nodes.find((n) => n.kind === 'op' && n.inputs.includes(node.id));
  return user?.kind === 'op' ? user.type : '(unused tensor)';
}
