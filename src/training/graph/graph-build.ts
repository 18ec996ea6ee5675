/**
 * Builds a traced step into a TensorFlow graph: resource variables (one handle, one read and one
 * initialiser each, shared by every step graph), placeholders for the batch and the dropout seeds,
 * the recorded ops with their eager attributes, and one AssignVariableOp per updated variable,
 * ordered after that variable's read. A NoOp named `train` depends on every assignment.
 */
import type * as tf from '@tensorflow/tfjs-core';
import type { GraphAddon, GraphHandle, OpAttr, OpInput, OutputRef } from './addon';
import { ATTR, DTYPE } from './addon';
import { GraphUnsupportedError } from './errors';
import { groupInputs, readInputArgs } from './op-def';
import type { InputArg } from './op-def';
import type { NodeBackend, RecordedNode } from './recorder';
import { reluGradOf } from './relu-grad';
import { readHandle } from './recorder';
import type { Trace } from './trace';

export interface GraphVariable {
  name: string;
  variable: tf.Variable;
  handle: number;
  read: number;
  init: number;
  initInput: number;
  dtype: number;
}

/** One step graph: what to feed and what to run. */
export interface StepGraph {
  x: number;
  y: number;
  /** One int64[2] seed placeholder per dropout layer that draws. */
  seeds: Map<number, number>;
  loss: OutputRef;
  train: number;
}

const TF_DTYPES: Record<string, number> = { float32: DTYPE.float32, int32: DTYPE.int32, bool: DTYPE.bool };

/** A graph under construction, with the variables every step graph in it shares. */
export class GraphState {
  readonly graph: GraphHandle;
  readonly variables = new Map<string, GraphVariable>();
  private readonly opDefs = new Map<string, InputArg[]>();

  constructor(
    readonly addon: GraphAddon,
    private readonly prefix: string,
  ) {
    this.graph = addon.newGraph();
  }

  add(
    type: string,
    inputs: readonly OpInput[],
    attrs: readonly OpAttr[],
    controls: readonly number[] = [],
  ): number {
    return this.addon.addOp(this.graph, type, inputs, attrs, controls);
  }

  /** The resource variable mirroring a tfjs variable (created on first use). */
  variable(name: string, variable: tf.Variable): GraphVariable {
    const known = this.variables.get(name);
    if (known) return known;
    const dtype = TF_DTYPES[variable.dtype];
    if (dtype === undefined)
      throw new GraphUnsupportedError(`variable ${name}`, `has dtype ${variable.dtype}`);
    const typed = [{ name: 'dtype', type: ATTR.type, value: dtype }];
    const handle = this.add(
      'VarHandleOp',
      [],
      [
        ...typed,
        { name: 'shape', type: ATTR.shape, value: variable.shape },
        { name: 'shared_name', type: ATTR.string, value: `${this.prefix}${this.variables.size}` },
      ],
    );
    const read = this.add('ReadVariableOp', [[handle, 0]], typed);
    const initInput = this.add(
      'Placeholder',
      [],
      [...typed, { name: 'shape', type: ATTR.shape, value: variable.shape }],
    );
    const init = this.add(
      'AssignVariableOp',
      [
        [handle, 0],
        [initInput, 0],
      ],
      typed,
    );
    const entry = { name, variable, read, init, initInput, dtype, handle };
    this.variables.set(name, entry);
    return entry;
  }

  inputArgs(type: string): InputArg[] {
    let args = this.opDefs.get(type);
    if (!args) {
      args = readInputArgs(this.addon.opDef(this.graph, type));
      this.opDefs.set(type, args);
    }
    return args;
  }
}

/** Adds the traced step to `state`; `inputShape`/`labelShape` are per sample. */
export function buildStep(state: GraphState, trace: Trace, backend: NodeBackend, rows: number): StepGraph {
  const refs = new Map<number, OutputRef>();
  for (const [id, name] of trace.reads) {
    const v = trace.variables.get(name) as tf.Variable;
    if (isUsed(trace, id)) refs.set(id, [state.variable(name, v).read, 0]);
  }
  const step: Partial<StepGraph> & { seeds: Map<number, number> } = { seeds: new Map() };
  const producers = new Map<number, RecordedNode>();
  trace.nodes.forEach((n) => (n.kind === 'op' ? n.outputs : [n.id]).forEach((id) => producers.set(id, n)));
  for (const node of trace.nodes) {
    if (node.kind === 'create') {
      refs.set(node.id, [createdOp(state, trace, node, step), 0]);
      continue;
    }
    const relu = reluGradOf(node, producers, trace);
    const { type, attrs, inputs: ids } = relu ?? node;
    const inputs = ids.map((id) => refs.get(id) ?? constantOf(state, backend, id, refs));
    let op: number;
    try {
      op = state.add(type, groupInputs(state.inputArgs(type), attrs, inputs), attrs);
    } catch (error) {
      throw new GraphUnsupportedError(
        `op ${node.type}`,
        `cannot be added to a graph (${(error as Error).message})`,
      );
    }
    node.outputs.forEach((id, k) => refs.set(id, [op, k]));
  }
  const assigns = [...trace.updates].map(([name, id]) => {
    const v = state.variable(name, trace.variables.get(name) as tf.Variable);
    const value = refs.get(id);
    if (!value) throw new GraphUnsupportedError(`variable ${name}`, 'takes a value the step did not compute');
    return state.add(
      'AssignVariableOp',
      [[v.handle, 0], value],
      [{ name: 'dtype', type: ATTR.type, value: v.dtype }],
      [v.read],
    );
  });
  const loss = refs.get(trace.lossId);
  if (!loss || step.x === undefined || step.y === undefined)
    throw new GraphUnsupportedError(
      '(step)',
      `the step does not use its batch and loss as expected (rows ${rows})`,
    );
  return { ...step, x: step.x, y: step.y, loss, train: state.add('NoOp', [], [], assigns) };
}

function isUsed(trace: Trace, id: number): boolean {
  return trace.nodes.some((n) => n.kind === 'op' && n.inputs.includes(id));
}

type PartialStep = Partial<StepGraph> & { seeds: Map<number, number> };

function createdOp(
  state: GraphState,
  trace: Trace,
  node: Trace['nodes'][number] & { kind: 'create' },
  step: PartialStep,
): number {
  const role = trace.roles.get(node.id);
  const typed = (value: number) => ({ name: 'dtype', type: ATTR.type, value });
  if (role?.kind === 'x' || role?.kind === 'y') {
    const op = state.add(
      'Placeholder',
      [],
      [typed(node.dtype), { name: 'shape', type: ATTR.shape, value: node.shape }],
    );
    step[role.kind] = op;
    return op;
  }
  if (role?.kind === 'random') {
    const seed = state.add(
      'Placeholder',
      [],
      [typed(DTYPE.int64), { name: 'shape', type: ATTR.shape, value: [2] }],
    );
    step.seeds.set(role.layer, seed);
    const shape = constant(state, DTYPE.int32, [node.shape.length], Int32Array.from(node.shape));
    return state.add(
      'StatelessRandomUniform',
      [
        [shape, 0],
        [seed, 0],
      ],
      [typed(DTYPE.float32)],
    );
  }
  return constant(state, node.dtype, node.shape, node.values);
}

function constant(state: GraphState, dtype: number, shape: number[], data: ArrayBufferView): number {
  return state.add(
    'Const',
    [],
    [
      { name: 'dtype', type: ATTR.type, value: dtype },
      { name: 'value', type: ATTR.tensor, value: { dtype, shape, data } },
    ],
  );
}

/** A tensor made before the step that is no training variable (e.g. a cached scalar): a constant. */
function constantOf(
  state: GraphState,
  backend: NodeBackend,
  id: number,
  refs: Map<number, OutputRef>,
): OutputRef {
  const { shape, dtype, values } = readHandle(backend, id);
  const ref: OutputRef = [constant(state, dtype, shape, values), 0];
  refs.set(id, ref);
  return ref;
}
