// Checkpoint key layout, run-name validation and s3:// URLs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { InvalidCheckpointUrlError, InvalidRunNameError } from '../../src/checkpoint/errors';
import {
  assertRunName,
  compareCheckpointParts,
  formatCheckpointKey,
  formatCheckpointUrl,
  parseCheckpointKey,
  parseCheckpointUrl,
} from '../../src/checkpoint/keys';

const runName = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,20}(\.[A-Za-z0-9_-]{1,5})?$/);

describe('checkpoint keys', () => {
  test('formats zero-padded epoch and step, Lightning-style', () => {
    assert.equal(formatCheckpointKey('mnist-1', 3, 750), 'mnist-1/epoch=0003-step=0000750.ckpt');
    assert.equal(formatCheckpointKey('r', 12345, 123456789), 'r/epoch=12345-step=123456789.ckpt');
  });

  test('parse(format(x)) = x for random run names, epochs and steps', () => {
    fc.assert(
      fc.property(runName, fc.nat({ max: 10 ** 6 }), fc.nat({ max: 10 ** 9 }), (name, epoch, step) => {
        assert.deepEqual(parseCheckpointKey(formatCheckpointKey(name, epoch, step)), {
          runName: name,
          epoch,
          step,
        });
      }),
    );
  });

  test('numeric order by (epoch, step), also past the padding width', () => {
    const keys = [
      formatCheckpointKey('r', 10000, 1),
      formatCheckpointKey('r', 2, 10_000_000),
      formatCheckpointKey('r', 2, 5),
    ];
    const sorted = keys.map((k) => parseCheckpointKey(k)!).sort(compareCheckpointParts);
    assert.deepEqual(
      sorted.map((p) => [p.epoch, p.step]),
      [
        [2, 5],
        [2, 10_000_000],
        [10000, 1],
      ],
    );
  });

  test('versioned keys (-v1, -v2, …) for a clashing key parse, round-trip and sort after the plain key', () => {
    assert.equal(formatCheckpointKey('r', 3, 750, 1), 'r/epoch=0003-step=0000750-v1.ckpt');
    assert.equal(formatCheckpointKey('r', 3, 750, 0), 'r/epoch=0003-step=0000750.ckpt');
    fc.assert(
      fc.property(
        runName,
        fc.nat({ max: 10 ** 6 }),
        fc.nat({ max: 10 ** 9 }),
        fc.integer({ min: 1, max: 99 }),
        (name, epoch, step, version) => {
          assert.deepEqual(parseCheckpointKey(formatCheckpointKey(name, epoch, step, version)), {
            runName: name,
            epoch,
            step,
            version,
          });
        },
      ),
    );
    const keys = [
      'r/epoch=0003-step=0000750-v2.ckpt',
      'r/epoch=0003-step=0000750.ckpt',
      'r/epoch=0003-step=0000750-v1.ckpt',
    ];
    const sorted = keys.map((k) => parseCheckpointKey(k)!).sort(compareCheckpointParts);
    assert.deepEqual(
      sorted.map((p) => p.version ?? 0),
      [0, 1, 2],
    );
    for (const bad of [
      'r/epoch=0003-step=0000750-v0.ckpt',
      'r/epoch=0003-step=0000750-v.ckpt',
      'r/epoch=0003-step=0000750-v01.ckpt',
    ]) {
      assert.equal(parseCheckpointKey(bad), undefined, bad);
    }
    assert.throws(() => formatCheckpointKey('r', 1, 1, -1), RangeError);
  });

  test('other keys do not parse', () => {
    for (const key of [
      'r/epoch=1-step=0000001.ckpt',
      'r/epoch=0001-step=0000001.bin',
      'a/b/epoch=0001-step=0000001.ckpt',
      'r/last.ckpt',
      '../epoch=0001-step=0000001.ckpt',
    ]) {
      assert.equal(parseCheckpointKey(key), undefined, key);
    }
  });

  test('run names with separators, spaces, dot-dot or odd characters are refused with the reason', () => {
    const cases: [string, RegExp][] = [
      ['', /empty/],
      ['a/b', /path separator/],
      ['../x', /path separator/],
      ['a..b', /"\.\."/],
      ['my run', /whitespace/],
      ['-x', /start with a letter or digit/],
      ['a*b', /contains "\*"/],
      ['x'.repeat(129), /longer than 128/],
    ];
    for (const [name, reason] of cases) {
      assert.throws(
        () => assertRunName(name),
        (err: unknown) => err instanceof InvalidRunNameError && reason.test(err.message),
        name,
      );
    }
    assert.throws(() => formatCheckpointKey('ok', -1, 0), RangeError);
    assert.throws(() => formatCheckpointKey('ok', 0, 1.5), RangeError);
  });
});

describe('checkpoint URLs', () => {
  test('parse and format round trip', () => {
    const url = 's3://ckpt-bucket/mnist/epoch=0003-step=0000750.ckpt';
    assert.deepEqual(parseCheckpointUrl(url), {
      bucket: 'ckpt-bucket',
      key: 'mnist/epoch=0003-step=0000750.ckpt',
    });
    assert.equal(formatCheckpointUrl('ckpt-bucket', 'mnist/epoch=0003-step=0000750.ckpt'), url);
    assert.deepEqual(parseCheckpointUrl('s3://bkt'), { bucket: 'bkt', key: '' });
  });

  test('bad URLs are typed errors', () => {
    for (const url of [
      'http://b/k.ckpt',
      '/tmp/k.ckpt',
      's3://',
      's3://B_ad/k.ckpt',
      's3://ok/../k.ckpt',
      'k.ckpt',
    ]) {
      assert.throws(() => parseCheckpointUrl(url), InvalidCheckpointUrlError, url);
    }
  });
});
