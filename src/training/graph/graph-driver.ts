/**
 * Graph-mode training steps on native TensorFlow: the first step of each batch size is traced (a
 * warm-up and two recorded eager runs, then the variables are put back), built into one graph with the
 * training variables as resource variables inside one TF session, and every step after that is one
 * session call that feeds the batch and the dropout seeds. The tfjs model and optimizer are the
 * host copy: `syncToHost` reads the session's variables back into them, `hostWritten` reloads them.
 * A step that cannot be traced falls back to eager for the session's life, with a warning.
 */
import * as tf from '@tensorflow/tfjs-core';
import { ensureOptimizerSlots } from '../optimizer-state';
import type { EagerDriver, StepBatch, StepDriver } from '../step-driver';
import type { FetchedTensor, Feed, GraphAddon, SessionHandle } from './addon';
import { DTYPE } from './addon';
import type { StepGraph } from './graph-build';
import { GraphState, buildStep } from './graph-build';
import { GraphUnsupportedError } from './errors';
import type { NodeBackend } from './recorder';
import { nodeBackend } from './recorder';
import { checkSameStep, traceStep } from './trace';
import { withTraceKernels } from './trace-kernels';

export interface GraphDriverOptions {
  addon: GraphAddon;
  /** Serialized ConfigProto for the session (threads). */
  sessionConfig: Uint8Array;
  /** Where a fallback to eager is reported. */
  warn(message: string): void;
}

type Internals = { iterations_?: number };
const ARRAYS = { [DTYPE.float32]: Float32Array, [DTYPE.int32]: Int32Array, [DTYPE.bool]: Uint8Array };
let instances = 0;

export class GraphDriver implements StepDriver {
  mode = 'graph';
  private state: GraphState | undefined;
  private session: SessionHandle | undefined;
  private readonly graphs = new Map<number, StepGraph>();
  private fallback: string | undefined;
  /** The session holds newer values than the tfjs variables. */
  private hostStale = false;
  /** The tfjs variables hold newer values than the session. */
  private graphStale = true;
  private baseIterations = 0;
  private steps = 0;

  constructor(
    private readonly eager: EagerDriver,
    private readonly options: GraphDriverOptions,
  ) {}

  train(batch: StepBatch): number {
    if (this.fallback) return this.eager.train(batch);
    let graph = this.graphs.get(batch.rows);
    if (!graph) {
      try {
        graph = this.trace(batch);
      } catch (error) {
        if (!(error instanceof GraphUnsupportedError)) throw error;
        this.fallBack(error);
        return this.eager.train(batch);
      }
    }
    if (this.graphStale) this.loadFromHost();
    const [loss] = this.run(this.feeds(graph, batch), [graph.loss], [graph.train]);
    this.hostStale = true;
    this.steps += 1;
    return new Float32Array((loss as FetchedTensor).data)[0] as number;
  }

  syncToHost(): void {
    if (!this.hostStale || !this.state) return;
    const variables = [...this.state.variables.values()];
    const values = this.run(
      [],
      variables.map((v) => [v.read, 0] as const),
      [],
    );
    tf.tidy(() =>
      variables.forEach((v, i) => {
        const fetched = values[i] as FetchedTensor;
        const Array = ARRAYS[fetched.dtype as keyof typeof ARRAYS];
        v.variable.assign(tf.tensor(new Array(fetched.data), fetched.shape, v.variable.dtype));
      }),
    );
    (this.eager.parts.optimizer as unknown as Internals).iterations_ = this.baseIterations + this.steps;
    this.hostStale = false;
  }

  hostWritten(): void {
    this.hostStale = false;
    this.graphStale = true;
  }

  dispose(): void {
    if (this.session) this.options.addon.closeSession(this.session);
    this.session = undefined;
  }

  private trace(batch: StepBatch): StepGraph {
    this.syncToHost();
    const backend = nodeBackend();
    ensureOptimizerSlots(this.eager.parts.optimizer, this.eager.parts.trainable);
    const optimizer = this.eager.parts.optimizer as unknown as Internals;
    const iterations = optimizer.iterations_;
    const saved = new Map(Object.entries(tf.engine().registeredVariables).map(([n, v]) => [n, tf.clone(v)]));
    try {
      // A warm-up step first: tfjs makes some constants lazily on first use (SGD's -lr, momentum),
      // so only the steps after it are alike.
      return withTraceKernels(() => {
        this.eager.cost(batch).dispose();
        const first = traceStep(backend, this.eager, batch);
        checkSameStep(first, traceStep(backend, this.eager, variantOf(batch)));
        return this.build(first, backend, batch.rows);
      });
    } finally {
      for (const [name, copy] of saved) tf.engine().registeredVariables[name]?.assign(copy);
      saved.forEach((copy) => copy.dispose());
      optimizer.iterations_ = iterations;
    }
  }

  private build(trace: ReturnType<typeof traceStep>, backend: NodeBackend, rows: number): StepGraph {
    this.state ??= new GraphState(this.options.addon, `dfit${++instances}_v`);
    const known = this.state.variables.size;
    const graph = buildStep(this.state, trace, backend, rows);
    this.session ??= this.options.addon.newSession(this.state.graph, this.options.sessionConfig);
    if (this.state.variables.size !== known) this.graphStale = true;
    this.graphs.set(rows, graph);
    return graph;
  }

  private loadFromHost(): void {
    const state = this.state as GraphState;
    const variables = [...state.variables.values()];
    const feeds: Feed[] = variables.map((v) => [
      v.initInput,
      0,
      v.dtype,
      v.variable.shape,
      v.variable.dataSync(),
    ]);
    this.run(
      feeds,
      [],
      variables.map((v) => v.init),
    );
    this.baseIterations = (this.eager.parts.optimizer as unknown as Internals).iterations_ ?? 0;
    this.steps = 0;
    this.graphStale = false;
  }

  private feeds(graph: StepGraph, batch: StepBatch): Feed[] {
    const { inputShape, labelShape } = this.eager.parts;
    const seeds = this.eager.layerSeeds(batch.stepSeed);
    const feeds: Feed[] = [
      [graph.x, 0, DTYPE.float32, [batch.rows, ...inputShape], batch.x],
      [graph.y, 0, DTYPE.float32, [batch.rows, ...labelShape], batch.y],
    ];
    for (const [layer, op] of graph.seeds)
      feeds.push([
        op,
        0,
        DTYPE.int64,
        [2],
        BigInt64Array.from([BigInt(seeds[layer] as number), BigInt(layer)]),
      ]);
    return feeds;
  }

  private run(feeds: Feed[], fetches: (readonly [number, number])[], targets: number[]): FetchedTensor[] {
    return this.options.addon.run(this.session as SessionHandle, feeds, fetches, targets);
  }

  private fallBack(error: GraphUnsupportedError): void {
    this.fallback = error.message;
    this.mode = `eager (graph unsupported: ${error.subject})`;
    this.options.warn(error.message);
  }
}

/** The same batch with its rows rotated by one and another seed: a second, different step. */
function variantOf(batch: StepBatch): StepBatch {
  const rotate = (a: Float32Array) => {
    const width = a.length / batch.rows;
    const out = new Float32Array(a.length);
    out.set(a.subarray(width));
    out.set(a.subarray(0, width), a.length - width);
    return out;
  };
  return {
    x: rotate(batch.x),
    y: rotate(batch.y),
    rows: batch.rows,
    stepSeed: (batch.stepSeed ^ 0x5bd1e995) >>> 0,
  };
}
