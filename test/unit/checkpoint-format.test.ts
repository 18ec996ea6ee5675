// The .ckpt format: round-trip properties over random states, layout as safetensors lays it out,
// and typed errors for states that cannot be written or files that are not ours.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import {
  CheckpointCorruptError,
  InvalidCheckpointStateError,
  NotACkptError,
  UnsupportedFormatVersionError,
} from '../../src/checkpoint/errors';
import {
  decodeCheckpoint,
  decodeContainer,
  encodeCheckpoint,
  encodeCheckpointParts,
  encodeContainerParts,
  readCheckpointHeader,
} from '../../src/checkpoint/format';
import { CHECKPOINT_FORMAT_VERSION, markerMetadata } from '../../src/checkpoint/meta-codec';
import { normalisedTensors, sampleMeta, sampleState, stateArb } from '../helpers/checkpoint-fixtures';

describe('checkpoint format round trip', () => {
  test('decode(encode(state)) equals state for random tensors and metadata', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        const decoded = decodeCheckpoint(encodeCheckpoint(state));
        assert.deepEqual(normalisedTensors(decoded.tensors), normalisedTensors(state.tensors));
        assert.deepEqual(decoded.meta, state.meta);
      }),
      { numRuns: 300 },
    );
  });

  test('encoding is deterministic and chunked encoding equals the single buffer', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        const one = encodeCheckpoint(state);
        const { parts, bytes } = encodeCheckpointParts(state);
        assert.equal(bytes, one.length);
        assert.deepEqual(Buffer.concat(parts), one);
        assert.deepEqual(encodeCheckpoint(state), one);
      }),
      { numRuns: 100 },
    );
  });

  test('layout: header padded with spaces to 8 bytes; tensors by dtype width, then name; contiguous', () => {
    fc.assert(
      fc.property(stateArb, (state) => {
        const bytes = encodeCheckpoint(state);
        const n = Number(bytes.readBigUInt64LE(0));
        assert.equal(n % 8, 0);
        assert.match(bytes.subarray(8, 8 + n).toString('utf8'), /} *$/);
        const header = readCheckpointHeader(bytes);
        const names = header.tensors.filter((t) => t.end > t.begin).map((t) => t.name);
        const expected = [...state.tensors]
          .filter((t) => t.data.byteLength > 0)
          .sort(
            (a, b) =>
              rank(b.dtype) - rank(a.dtype) || Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
          )
          .map((t) => t.name);
        assert.deepEqual(names, expected);
      }),
      { numRuns: 100 },
    );
  });

  test('decoded tensor data are views into the input (no copy)', () => {
    const bytes = encodeCheckpoint(sampleState());
    const decoded = decodeCheckpoint(bytes);
    for (const t of decoded.tensors) assert.equal(t.data.buffer, bytes.buffer);
  });

  test('NaN, ±Infinity and -0 in metrics and optimizer scalars survive exactly', () => {
    const meta = sampleMeta({
      metrics: [{ epoch: 0, loss: NaN, valAccuracy: -0 }],
      optimizer: { className: 'Adam', config: {}, scalars: { a: Infinity, b: -Infinity } },
    });
    const decoded = decodeCheckpoint(encodeCheckpoint({ tensors: [], meta }));
    assert.ok(Number.isNaN(decoded.meta.metrics[0]?.loss));
    assert.ok(Object.is(decoded.meta.metrics[0]?.valAccuracy, -0));
    assert.deepEqual(decoded.meta.optimizer.scalars, { a: Infinity, b: -Infinity });
  });

  test('metadata is stored as one JSON string per meta field, readable without our code', () => {
    const header = readCheckpointHeader(encodeCheckpoint(sampleState()));
    assert.equal(header.metadata.format, 'durable-fit.ckpt');
    assert.equal(header.metadata.format_version, String(CHECKPOINT_FORMAT_VERSION));
    assert.deepEqual(JSON.parse(header.metadata.cursor ?? ''), sampleMeta().cursor);
  });
});

describe('checkpoint format errors', () => {
  test('the writer refuses states that would make a bad file', () => {
    const state = sampleState();
    const cases = [
      { ...state, tensors: [{ name: 'x', dtype: 'F32' as const, shape: [3], data: new Uint8Array(8) }] },
      { ...state, tensors: [state.tensors[0]!, state.tensors[0]!] },
      {
        ...state,
        tensors: [{ name: '__metadata__', dtype: 'U8' as const, shape: [0], data: new Uint8Array(0) }],
      },
      { ...state, tensors: [{ name: 'x', dtype: 'F31' as never, shape: [0], data: new Uint8Array(0) }] },
      { ...state, tensors: [{ name: 'x', dtype: 'U8' as const, shape: [-1], data: new Uint8Array(0) }] },
      { ...state, meta: { ...state.meta, cursor: undefined as never } },
    ];
    for (const bad of cases) assert.throws(() => encodeCheckpoint(bad), InvalidCheckpointStateError);
  });

  test('a safetensors file without our marker is not a .ckpt', () => {
    const { parts } = encodeContainerParts(sampleState().tensors, { framework: 'pt' });
    assert.throws(() => decodeCheckpoint(Buffer.concat(parts)), NotACkptError);
  });

  test('a newer format version is refused with what to do', () => {
    const newer = CHECKPOINT_FORMAT_VERSION + 1;
    const { parts } = encodeContainerParts([], {
      ...markerMetadata('training-state'),
      format_version: String(newer),
    });
    assert.throws(
      () => decodeCheckpoint(Buffer.concat(parts)),
      (err: unknown) => {
        assert.ok(err instanceof UnsupportedFormatVersionError);
        assert.equal(err.found, newer);
        assert.match(err.message, /upgrade durable-fit/);
        return true;
      },
    );
  });

  test('a tfjs model checkpoint is not a training state', () => {
    const { parts } = encodeContainerParts([], markerMetadata('model'));
    const bytes = Buffer.concat(parts);
    assert.throws(() => decodeCheckpoint(bytes), /tf\.loadLayersModel/);
    assert.equal(decodeContainer(bytes).metadata.kind, 'model');
  });

  test('missing or malformed meta fields are corrupt metadata', () => {
    const meta = { ...markerMetadata('training-state'), task: '"t"' };
    const missing = Buffer.concat(encodeContainerParts([], meta).parts);
    assert.throws(
      () => decodeCheckpoint(missing),
      (err: unknown) => {
        assert.ok(err instanceof CheckpointCorruptError);
        assert.equal(err.kind, 'bad-metadata');
        return true;
      },
    );
    const badJson = Buffer.concat(encodeContainerParts([], { ...meta, cursor: '{' }).parts);
    assert.throws(() => decodeCheckpoint(badJson), CheckpointCorruptError);
  });

  test('readCheckpointHeader works on the header prefix alone', () => {
    const bytes = encodeCheckpoint(sampleState());
    const n = 8 + Number(bytes.readBigUInt64LE(0));
    const header = readCheckpointHeader(bytes.subarray(0, n), bytes.length);
    assert.equal(header.dataStart, n);
    assert.equal(header.tensors.length, sampleState().tensors.length);
  });
});

function rank(dtype: string): number {
  return ['BOOL', 'U8', 'I8', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'F64', 'I64', 'U64'].indexOf(
    dtype,
  );
}
