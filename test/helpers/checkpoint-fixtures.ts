/** Training states for checkpoint tests: a fixed small one and fast-check arbitraries. */
import fc from 'fast-check';
import { DTYPE_SIZES } from '../../src/checkpoint/dtypes';
import type { CheckpointMeta, NamedTensor, TensorDType, TrainingState } from '../../src/state';
import { CHECKPOINT_FORMAT_VERSION } from '../../src/checkpoint/meta-codec';

export const DTYPES = Object.keys(DTYPE_SIZES) as TensorDType[];

/** A complete, plausible meta. */
export function sampleMeta(overrides: Partial<CheckpointMeta> = {}): CheckpointMeta {
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    task: 'boring',
    hparams: { lr: 0.01, units: 8 },
    spec: { task: 'boring', epochs: 3, seed: 7 },
    topology: { class_name: 'Sequential', config: { layers: [] } },
    optimizer: {
      className: 'Adam',
      config: { learningRate: 0.01 },
      scalars: { iterations: 30, accBeta1: 0.04 },
    },
    cursor: { epoch: 1, batch: 0, step: 30, batchesPerEpoch: 30 },
    rng: { s: [1, 2, 3, 4] },
    metrics: [{ epoch: 0, loss: 0.5, valAccuracy: 0.75 }],
    fingerprints: { topology: 'a'.repeat(64), task: 'b'.repeat(64), code: '0.1.0' },
    backend: { name: 'cpu', versions: { 'tfjs-core': '4.22.0' } },
    weightsSha256: 'c'.repeat(64),
    createdAt: '2026-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** A float32 tensor with values 0, 1, 2, … scaled by `scale`. */
export function f32Tensor(name: string, shape: number[], scale = 1): NamedTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Float32Array.from({ length: n }, (_, i) => i * scale);
  return { name, dtype: 'F32', shape, data: new Uint8Array(values.buffer) };
}

/** A small state with a few dtypes. */
export function sampleState(meta: Partial<CheckpointMeta> = {}): TrainingState {
  return {
    tensors: [
      f32Tensor('model/dense_1/kernel', [4, 3], 0.5),
      f32Tensor('model/dense_1/bias', [3]),
      { name: 'optimizer/count', dtype: 'I64', shape: [1], data: new Uint8Array(8).fill(1) },
      { name: 'model/mask', dtype: 'BOOL', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) },
      { name: 'model/empty', dtype: 'F64', shape: [0, 5], data: new Uint8Array(0) },
    ],
    meta: sampleMeta(meta),
  };
}

/** A state whose one float32 tensor makes the checkpoint about `megabytes` MB. */
export function largeState(megabytes: number, seed = 1): TrainingState {
  const n = Math.floor((megabytes * 1_000_000) / 4);
  const data = new Uint8Array(n * 4);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < data.length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
    data[i + 1] = (x >>> 8) & 0xff;
    data[i + 2] = (x >>> 16) & 0xff;
    data[i + 3] = 0x3f;
  }
  return { tensors: [{ name: 'model/big', dtype: 'F32', shape: [n], data }], meta: sampleMeta() };
}

const tensorShape = fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 4 });

/** Random tensors with unique names (including odd unicode and integer-like names). */
export const tensorsArb: fc.Arbitrary<NamedTensor[]> = fc
  .uniqueArray(
    fc.record({
      name: fc.oneof(fc.string({ minLength: 1, maxLength: 12, unit: 'binary' }), fc.nat().map(String)),
      dtype: fc.constantFrom(...DTYPES),
      shape: tensorShape,
    }),
    { selector: (t) => t.name, maxLength: 8 },
  )
  .filter((ts) => ts.every((t) => t.name !== '__metadata__'))
  .chain((ts) =>
    fc.tuple(
      ...ts.map((t) =>
        fc
          .uint8Array({
            minLength: t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[t.dtype],
            maxLength: t.shape.reduce((a, b) => a * b, 1) * DTYPE_SIZES[t.dtype],
          })
          .map((data) => ({ ...t, data })),
      ),
    ),
  );

const anyJson = fc.jsonValue({ maxDepth: 3 });
const metricValue = fc.double();

/** Random, valid meta: arbitrary JSON where the contract allows it, special floats in numbers. */
export const metaArb: fc.Arbitrary<CheckpointMeta> = fc.record(
  {
    formatVersion: fc.constant(CHECKPOINT_FORMAT_VERSION),
    task: fc.string(),
    hparams: fc.dictionary(fc.string(), anyJson, { maxKeys: 4, noNullPrototype: true }),
    spec: fc.dictionary(fc.string(), anyJson, { maxKeys: 4, noNullPrototype: true }),
    topology: anyJson,
    optimizer: fc.record(
      {
        className: fc.constantFrom('Adam', 'SGD', 'RMSProp'),
        config: fc.dictionary(fc.string(), anyJson, { maxKeys: 3, noNullPrototype: true }),
        scalars: fc.dictionary(fc.string(), fc.double(), { maxKeys: 3, noNullPrototype: true }),
      },
      { noNullPrototype: true },
    ),
    cursor: fc.record(
      { epoch: fc.nat(), batch: fc.nat(), step: fc.nat(), batchesPerEpoch: fc.nat() },
      { noNullPrototype: true },
    ),
    rng: anyJson,
    metrics: fc.array(
      fc.record(
        { epoch: fc.nat(), loss: metricValue, valAccuracy: metricValue },
        { requiredKeys: ['epoch'], noNullPrototype: true },
      ),
      { maxLength: 4 },
    ),
    fingerprints: fc.record(
      { topology: fc.string(), task: fc.string(), code: fc.string() },
      { noNullPrototype: true },
    ),
    backend: fc.record(
      {
        name: fc.constantFrom('cpu', 'wasm', 'tensorflow'),
        versions: fc.dictionary(fc.string(), fc.string(), { maxKeys: 3, noNullPrototype: true }),
      },
      { noNullPrototype: true },
    ),
    weightsSha256: fc.string(),
    createdAt: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  },
  { noNullPrototype: true },
);

export const stateArb: fc.Arbitrary<TrainingState> = fc.record(
  { tensors: tensorsArb, meta: metaArb },
  { noNullPrototype: true },
);

/** Tensors sorted by name, with data as plain Buffers, for deep comparison. */
export function normalisedTensors(tensors: readonly NamedTensor[]) {
  return [...tensors]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({ ...t, data: Buffer.from(t.data) }));
}

/**
 * A checkpoint's bytes with its header metadata edited by `edit` (the safetensors header, re-padded
 * to 8 bytes), the tensors untouched: how tests tamper with a cursor, a hash or a signature.
 */
export function editHeader(bytes: Buffer, edit: (meta: Record<string, string>) => void): Buffer {
  const end = 8 + Number(bytes.readBigUInt64LE(0));
  const json = JSON.parse(bytes.subarray(8, end).toString('utf8')) as {
    __metadata__: Record<string, string>;
  };
  edit(json.__metadata__);
  let text = JSON.stringify(json);
  text += ' '.repeat((8 - (Buffer.byteLength(text) % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  return Buffer.concat([prefix, Buffer.from(text), bytes.subarray(end)]);
}
