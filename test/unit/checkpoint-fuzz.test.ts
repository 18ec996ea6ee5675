// Fuzzes the .ckpt reader: mutated, truncated and hostile inputs must yield typed CheckpointErrors
// only — no crash, no hang, no allocation proportional to what a header claims. And detection: the
// decoder alone cannot see a flipped tensor byte (safetensors has no checksum), so every load goes
// through the store, which checks the payload's SHA-256 first; there, every mutation of header or
// tensor bytes must be caught as a typed CheckpointCorruptError unless the bytes are unchanged.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { CheckpointCorruptError, CheckpointError } from '../../src/checkpoint/errors';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointHeader } from '../../src/checkpoint/format';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { sampleState } from '../helpers/checkpoint-fixtures';

const VALID = encodeCheckpoint(sampleState());
const HEADER_END = 8 + Number(VALID.readBigUInt64LE(0));
const HEADER = JSON.parse(VALID.subarray(8, HEADER_END).toString('utf8')) as Record<string, unknown>;

/** Decodes, returning the thrown error's class name, or 'ok'. Anything untyped fails the test. */
function outcome(bytes: Uint8Array): string {
  try {
    decodeCheckpoint(bytes);
    return 'ok';
  } catch (err) {
    if (!(err instanceof CheckpointError)) {
      assert.fail(`untyped error ${String(err)} for input of ${bytes.length} bytes`);
    }
    return err.name;
  }
}

/** A file with a given header object and data section (the length field set correctly). */
function withHeader(header: unknown, data: Uint8Array = VALID.subarray(HEADER_END)): Buffer {
  const json = Buffer.from(JSON.stringify(header) ?? 'undefined', 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

const byteFlips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
  minLength: 1,
  maxLength: 8,
});
const hostileValue = fc.oneof(
  fc.anything(),
  fc.constantFrom(-1, 2 ** 53, 2 ** 60, 1e308, NaN, [0, 2 ** 62], [-8, 0], [10, 5], 'F32', 'F128', [[1]], {}),
  fc.array(fc.oneof(fc.integer(), fc.constant(2 ** 60), fc.double()), { maxLength: 4 }),
);
const FIELDS = ['dtype', 'shape', 'data_offsets'] as const;

test('10,000+ mutated, truncated and hostile inputs give only typed errors, quickly; any the decoder accepts, the store rejects', async () => {
  const started = Date.now();
  const arrayBuffersBefore = process.memoryUsage().arrayBuffers;
  let slowest = 0;
  const seen = new Map<string, number>();
  const acceptedChanged: Buffer[] = [];
  const record = (bytes: Uint8Array) => {
    const t0 = performance.now();
    const name = outcome(bytes);
    slowest = Math.max(slowest, performance.now() - t0);
    // The decoder has no checksum, so it may accept a changed file; the store's hash must not.
    if (name === 'ok' && !Buffer.from(bytes).equals(VALID) && acceptedChanged.length < 500)
      acceptedChanged.push(Buffer.from(bytes));
    seen.set(name, (seen.get(name) ?? 0) + 1);
  };
  // 1. Random byte flips, biased to the header where they matter.
  fc.assert(
    fc.property(byteFlips, fc.boolean(), (flips, inHeader) => {
      const bytes = Buffer.from(VALID);
      const span = inHeader ? HEADER_END : bytes.length;
      for (const [at, value] of flips) bytes[at % span] = value;
      record(bytes);
    }),
    { numRuns: 4000 },
  );
  // 2. Every truncation of the valid file, and of flipped variants.
  for (let n = 0; n < VALID.length; n++) record(VALID.subarray(0, n));
  fc.assert(
    fc.property(fc.nat(), fc.nat({ max: 255 }), fc.nat(), (at, value, cut) => {
      const bytes = Buffer.from(VALID);
      bytes[at % HEADER_END] = value;
      record(bytes.subarray(0, cut % bytes.length));
    }),
    { numRuns: 2000 },
  );
  // 3. Structurally valid JSON headers with hostile field values.
  const tensorNames = Object.keys(HEADER).filter((k) => k !== '__metadata__');
  fc.assert(
    fc.property(
      fc.constantFrom(...tensorNames),
      fc.constantFrom(...FIELDS),
      hostileValue,
      (name, field, value) => {
        const header = structuredClone(HEADER);
        (header[name] as Record<string, unknown>)[field] = value;
        record(withHeader(header));
      },
    ),
    { numRuns: 3000 },
  );
  // 4. Hostile header lengths and whole-header replacements.
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.anything(), (claimed, header) => {
      const bytes = withHeader(header);
      bytes.writeBigUInt64LE(claimed);
      record(bytes);
      record(withHeader(header));
    }),
    { numRuns: 1000 },
  );
  const total = [...seen.values()].reduce((a, b) => a + b, 0);
  const elapsed = Date.now() - started;
  const grownMb = (process.memoryUsage().arrayBuffers - arrayBuffersBefore) / 1e6;
  console.log(`fuzz: ${total} inputs in ${elapsed} ms, slowest ${slowest.toFixed(1)} ms, outcomes`, seen);
  assert.ok(total >= 10_000, `only ${total} inputs`);
  assert.ok(elapsed < 60_000, `fuzzing took ${elapsed} ms`);
  assert.ok(slowest < 500, `one input took ${slowest} ms`);
  assert.ok(grownMb < 64, `array buffers grew by ${grownMb} MB`);
  for (const bytes of acceptedChanged) assert.equal(await loadMutated(bytes), 'detected');
});

test('a header claiming 2^60 bytes, or a tensor claiming 2^60 bytes, fails fast without allocating', () => {
  const bytes = Buffer.from(VALID);
  bytes.writeBigUInt64LE(2n ** 60n);
  assert.throws(() => readCheckpointHeader(bytes), CheckpointCorruptError);
  const header = structuredClone(HEADER);
  const name = Object.keys(header).find((k) => k !== '__metadata__') as string;
  header[name] = { dtype: 'F32', shape: [2 ** 29, 2 ** 29], data_offsets: [0, 2 ** 60] };
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(() => decodeCheckpoint(withHeader(header)), CheckpointCorruptError);
  assert.ok(process.memoryUsage().arrayBuffers - before < 16e6);
});

test('overlapping, gapped and out-of-range offsets are named in the error', () => {
  const f32 = (begin: number) => ({ dtype: 'F32', shape: [2], data_offsets: [begin, begin + 8] });
  const overlap = withHeader({ a: f32(0), b: f32(0) }, Buffer.alloc(16));
  assert.throws(() => readCheckpointHeader(overlap), /starts at 0, expected 8 \(gap or overlap\)/);
  const gap = withHeader({ a: f32(0), b: f32(12) }, Buffer.alloc(20));
  assert.throws(() => readCheckpointHeader(gap), /starts at 12, expected 8 \(gap or overlap\)/);
  const short = withHeader({ a: f32(0), b: f32(8) }, Buffer.alloc(12));
  assert.throws(() => readCheckpointHeader(short), /truncated/);
  const tail = withHeader({ a: f32(0), b: f32(8) }, Buffer.alloc(20));
  assert.throws(() => readCheckpointHeader(tail), /4 bytes that no tensor covers/);
});

/** What a mutation of the stored bytes gives when loaded through the store ('no-op' when unchanged). */
async function loadMutated(mutated: Buffer): Promise<'no-op' | 'detected'> {
  const objects = createMemoryObjectClient('fuzz');
  const store = new ObjectCheckpointIO(objects);
  const saved = await store.save('fuzz', sampleState());
  const stored = objects.objects.get(saved.key);
  assert.ok(stored && stored.body.equals(VALID), 'the store writes the encoded bytes');
  stored.body = mutated;
  const unchanged = mutated.equals(VALID);
  // As the workflow loads (it recorded size and hash) and as a user's resumeFrom does (object metadata).
  for (const expected of [{ sha256: saved.sha256, bytes: saved.bytes }, {}]) {
    try {
      await store.load(saved.url, expected);
      assert.ok(unchanged, `a mutation of ${mutated.length} bytes loaded without an error`);
    } catch (err) {
      assert.ok(!unchanged, `unchanged bytes were rejected: ${String(err)}`);
      assert.ok(err instanceof CheckpointCorruptError, `untyped or wrong error ${String(err)}`);
    }
  }
  return unchanged ? 'no-op' : 'detected';
}

test('every mutation of header or tensor bytes is detected on load (typed), unless the bytes are unchanged', async () => {
  const outcomes = { 'no-op': 0, detected: 0 };
  const dataStart = HEADER_END;
  const mutations = fc.oneof(
    // Flips anywhere, in the header only, or in the tensor data only (where the decoder sees nothing).
    fc.tuple(byteFlips, fc.constantFrom('anywhere', 'header', 'data')).map(([flips, where]) => {
      const bytes = Buffer.from(VALID);
      for (const [at, value] of flips) {
        const i =
          where === 'data'
            ? dataStart + (at % (VALID.length - dataStart))
            : at % (where === 'header' ? HEADER_END : VALID.length);
        bytes[i] = value;
      }
      return bytes;
    }),
    fc.nat().map((cut) => Buffer.from(VALID.subarray(0, cut % VALID.length))),
    fc
      .tuple(
        fc.constantFrom(...Object.keys(HEADER).filter((k) => k !== '__metadata__')),
        fc.constantFrom(...FIELDS),
        hostileValue,
      )
      .map(([name, field, value]) => {
        const header = structuredClone(HEADER);
        (header[name] as Record<string, unknown>)[field] = value;
        return withHeader(header);
      }),
  );
  await fc.assert(
    fc.asyncProperty(mutations, async (bytes) => {
      outcomes[await loadMutated(bytes)]++;
    }),
    { numRuns: 1500 },
  );
  assert.ok(outcomes.detected > 1000, `only ${outcomes.detected} mutations changed the bytes`);
  // A flipped tensor byte is structurally fine: since format v2 the file's own payload hash catches
  // it in the decoder too (a copy without object metadata is still verified), and the store as well.
  const silent = Buffer.from(VALID);
  silent[VALID.length - 1] = (silent[VALID.length - 1] ?? 0) ^ 0x01;
  assert.equal(outcome(silent), 'CheckpointCorruptError');
  assert.equal(await loadMutated(silent), 'detected');
});
