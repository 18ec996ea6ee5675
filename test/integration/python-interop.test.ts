// Python's reference `safetensors` reads a checkpoint we wrote to MinIO: names, dtypes, shapes,
// values and metadata all match. Needs python3; scripts/python-venv.sh installs safetensors + numpy.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import type { NamedTensor, TensorDType } from '../../src/state';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { sampleMeta } from '../helpers/checkpoint-fixtures';
import { testStack } from '../helpers/stack-env';

const connection = { ...testStack().s3, bucket: `ckpt-interop-${process.pid}-${Date.now() % 1e6}` };
const objects = createMinioObjectClient(connection);
const dir = mkdtempSync(path.join(os.tmpdir(), 'dfit-interop-'));

const ARRAYS: Record<string, (values: number[]) => ArrayBufferView> = {
  F64: (v) => Float64Array.from(v),
  F32: (v) => Float32Array.from(v),
  I32: (v) => Int32Array.from(v),
  I16: (v) => Int16Array.from(v),
  I8: (v) => Int8Array.from(v),
  U8: (v) => Uint8Array.from(v),
  U16: (v) => Uint16Array.from(v),
  U32: (v) => Uint32Array.from(v),
  BOOL: (v) => Uint8Array.from(v),
  I64: (v) => BigInt64Array.from(v.map(BigInt)),
  U64: (v) => BigUint64Array.from(v.map(BigInt)),
};

function tensor(name: string, dtype: TensorDType, shape: number[], values: number[]): NamedTensor {
  const view = ARRAYS[dtype]!(values);
  return { name, dtype, shape, data: new Uint8Array(view.buffer, view.byteOffset, view.byteLength) };
}

before(async () => {
  if (!(await objects.bucketExists())) await objects.makeBucket();
});

after(async () => {
  for (const o of await objects.list('')) await objects.remove(o.key);
  rmSync(dir, { recursive: true, force: true });
});

test('Python safetensors + numpy read our checkpoint exactly', { timeout: 180_000 }, async () => {
  const specs: [string, TensorDType, number[], number[]][] = [
    ['model/dense_1/kernel', 'F32', [2, 3], [0.5, -1.25, 3.0e-8, 1e30, -0, 7]],
    ['model/dense_1/bias', 'F64', [3], [Math.PI, -Math.E, 1e-300]],
    ['optimizer/dense_1/kernel/m', 'F32', [2, 3], [1, 2, 3, 4, 5, 6]],
    ['rng/state', 'U32', [4], [1, 2 ** 32 - 1, 12345, 0]],
    ['counts', 'I64', [2], [-(2 ** 40), 2 ** 40]],
    ['u64', 'U64', [1], [2 ** 50]],
    ['labels', 'I32', [3], [-7, 0, 2 ** 31 - 1]],
    ['small', 'I16', [2], [-32768, 32767]],
    ['tiny', 'I8', [2], [-128, 127]],
    ['halfwords', 'U16', [1], [65535]],
    ['bytes', 'U8', [2, 2], [0, 1, 254, 255]],
    ['mask', 'BOOL', [3], [1, 0, 1]],
    ['empty', 'F32', [0, 4], []],
  ];
  const meta = sampleMeta();
  const store = new ObjectCheckpointIO(objects);
  const saved = await store.save('interop', { tensors: specs.map((s) => tensor(...s)), meta });
  const file = path.join(dir, 'interop.ckpt');
  await store.getToFile(saved.url, file, saved);
  const expected = {
    tensors: specs.map(([name, dtype, shape, values]) => ({ name, dtype, shape, values })),
    metadata: {
      format: 'durable-fit.ckpt',
      format_version: '2',
      kind: 'training-state',
      cursor: meta.cursor,
      task: meta.task,
      optimizer: meta.optimizer,
    },
  };
  writeFileSync(path.join(dir, 'expected.json'), JSON.stringify(expected));
  const python = execFileSync('sh', ['scripts/python-venv.sh'], { encoding: 'utf8' }).trim();
  const out = execFileSync(python, ['test/interop/read_ckpt.py', file, path.join(dir, 'expected.json')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  assert.deepEqual(JSON.parse(out), { tensors: specs.length, problems: 0 });
});
