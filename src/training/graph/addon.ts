/**
 * The graph addon (src/native/graph-addon, built by `durable-fit backend build` next to tfjs-node's
 * own addon): TensorFlow C API graphs and sessions, loaded into the same process and the same
 * libtensorflow as the eager backend.
 */
import fs from 'node:fs';
import path from 'node:path';

/** An attribute in tfjs-node's encoding; `type` is a TF_AttrType (6 = tensor: `TensorValue`). */
export interface OpAttr {
  name: string;
  type: number;
  value: unknown;
}

export interface TensorValue {
  /** TF_DataType. */
  dtype: number;
  shape: number[];
  data: ArrayBufferView | ArrayBuffer;
}

/** `[op index, output index]`; an array of them is a list input. */
export type OutputRef = readonly [number, number];
export type OpInput = OutputRef | readonly OutputRef[];

export type Feed = readonly [number, number, number, readonly number[], ArrayBufferView];

export interface FetchedTensor {
  dtype: number;
  shape: number[];
  data: ArrayBuffer;
}

declare const handle: unique symbol;
export type GraphHandle = { readonly [handle]: 'graph' };
export type SessionHandle = { readonly [handle]: 'session' };

export interface GraphAddon {
  version(): string;
  newGraph(): GraphHandle;
  addOp(
    graph: GraphHandle,
    type: string,
    inputs: readonly OpInput[],
    attrs: readonly OpAttr[],
    controls: readonly number[],
  ): number;
  opDef(graph: GraphHandle, type: string): Buffer;
  /** The whole graph as a serialized GraphDef (for profiling with TensorFlow's own tools). */
  graphDef(graph: GraphHandle): Buffer;
  outputShape(graph: GraphHandle, op: number, index: number): number[] | null;
  newSession(graph: GraphHandle, configProto: Uint8Array): SessionHandle;
  run(
    session: SessionHandle,
    feeds: readonly Feed[],
    fetches: readonly OutputRef[],
    targets: readonly number[],
  ): FetchedTensor[];
  closeSession(session: SessionHandle): void;
}

/** TF_AttrType codes (tensorflow/c/tf_attrtype.h). */
export const ATTR = { string: 0, int: 1, float: 2, bool: 3, type: 4, shape: 5, tensor: 6 } as const;
/** TF_DataType codes used here (tensorflow/c/tf_datatype.h). */
export const DTYPE = { float32: 1, int32: 3, uint8: 4, int64: 9, bool: 10, resource: 20 } as const;

/** File name of the graph addon inside a native build's `lib/napi-v8/`. */
export const GRAPH_ADDON_FILE = 'dfit_graph.node';

/** The graph addon beside the tfjs-node(-gpu) addon in `packageDir`, or why it cannot load. */
export function loadGraphAddon(packageDir: string): GraphAddon {
  const file = path.join(packageDir, 'lib', 'napi-v8', GRAPH_ADDON_FILE);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run \`durable-fit backend build\``);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as GraphAddon;
}
