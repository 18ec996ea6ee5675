/** `digits-resnet`, the native-speed task: its augmented dataset is a pure function of its hparams. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { digitsResnetTask, validateHparams } from '../../src/training/tasks';

const load = (h: Record<string, unknown>) =>
  digitsResnetTask.loadDataset(validateHparams(digitsResnetTask, h) as never);
const sha = (a: Float32Array) =>
  createHash('sha256')
    .update(Buffer.from(a.buffer, a.byteOffset, a.byteLength))
    .digest('hex');

test('augmented copies are seeded: same hparams, same bytes; another seed, other shifts', () => {
  const a = load({ trainSize: 200, valSize: 50, augmentCopies: 2 });
  const b = load({ trainSize: 200, valSize: 50, augmentCopies: 2 });
  const c = load({ trainSize: 200, valSize: 50, augmentCopies: 2, augmentSeed: 2 });
  assert.equal(a.train.size, 600);
  assert.equal(sha(a.train.x), sha(b.train.x));
  assert.notEqual(sha(a.train.x), sha(c.train.x));
  assert.equal(sha(a.validation.x), sha(c.validation.x), 'validation is never augmented');
  const plain = load({ trainSize: 200, valSize: 50, augmentCopies: 0 });
  assert.equal(sha(a.train.x.subarray(0, 200 * 784)), sha(plain.train.x), 'originals come first, unchanged');
  assert.deepEqual(a.train.y.subarray(200 * 10, 201 * 10), a.train.y.subarray(0, 10), 'copies keep labels');
});

test('wasm is refused up front (no conv gradients there)', () => {
  assert.match(digitsResnetTask.unsupportedBackends?.wasm ?? '', /Conv2DBackpropFilter/);
});
