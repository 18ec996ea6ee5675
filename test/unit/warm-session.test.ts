/**
 * The warm trainer: when a next run may adopt the speculative continuation (pure decision, one test
 * per branch), and a real trainer child adopting one (its batches trained before the run began) or
 * discarding it, each ending with the weights a cold restore from the checkpoint's bytes gives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { decodeCheckpoint, encodeCheckpoint } from '../../src/checkpoint/format';
import { TrainerRemoteError } from '../../src/training/errors';
import type { BatchProgress } from '../../src/training/run-loop';
import type { RunConfig } from '../../src/training/session';
import { TrainerProcess } from '../../src/training/trainer-process';
import type { WarmKey, WarmWanted } from '../../src/training/warm-session';
import { decideWarmStart } from '../../src/training/warm-session';

const config: RunConfig = { task: 'synthetic', hparams: { dropout: 0.3 }, seed: 1, batchSize: 16, epochs: 3 };
const saved = { sha256: 'a'.repeat(64), url: 's3://b/run/epoch=0001-step=0000006.ckpt' };
const held: WarmKey = {
  config,
  specExtras: { training: { x: 1 } },
  allowBackendChange: false,
  untilEpoch: 2,
  saved,
};
const wanted: WarmWanted = { ...held, from: saved };

describe('decideWarmStart', () => {
  test('adopts exactly the checkpoint the session was saved as, for the same run', () => {
    assert.deepEqual(decideWarmStart(held, wanted), { adopt: true });
    const reordered = {
      ...wanted,
      config: { epochs: 3, batchSize: 16, seed: 1, hparams: { dropout: 0.3 }, task: 'synthetic' },
    };
    assert.deepEqual(decideWarmStart(held, reordered), { adopt: true }, 'key order does not matter');
  });

  const refusals: [string, WarmKey | undefined, WarmWanted, RegExp][] = [
    ['nothing held', undefined, wanted, /no warm session/],
    ['a fresh start', held, { ...wanted, from: undefined }, /fresh start/],
    ['a fork', held, { ...wanted, initWeights: true }, /fork/],
    ['never saved', { ...held, saved: undefined }, wanted, /never saved/],
    [
      'an older checkpoint',
      held,
      { ...wanted, from: { ...saved, sha256: 'b'.repeat(64) } },
      /another checkpoint/,
    ],
    [
      'same hash, other url',
      held,
      { ...wanted, from: { ...saved, url: `${saved.url}x` } },
      /another checkpoint/,
    ],
    ['other seed', held, { ...wanted, config: { ...config, seed: 2 } }, /run configuration/],
    [
      'other hparams',
      held,
      { ...wanted, config: { ...config, hparams: { dropout: 0.2 } } },
      /run configuration/,
    ],
    ['more epochs', held, { ...wanted, config: { ...config, epochs: 4 } }, /run configuration/],
    ['other spec', held, { ...wanted, specExtras: { training: { x: 2 } } }, /training spec/],
    ['backend change allowed', held, { ...wanted, allowBackendChange: true }, /backend-change/],
    ['other end epoch', held, { ...wanted, untilEpoch: 3 }, /end epoch/],
    ['a deterministic stop', held, { ...wanted, stopAtStep: 7 }, /deterministic stop/],
  ];
  for (const [name, h, w, reason] of refusals) {
    test(`discards on ${name}`, () => {
      const decision = decideWarmStart(h, w);
      assert.equal(decision.adopt, false);
      assert.match(decision.adopt ? '' : decision.reason, reason);
    });
  }
});

describe('a warm trainer child', () => {
  let trainer: TrainerProcess;
  before(async () => {
    trainer = await TrainerProcess.start({ backend: 'cpu', onStderr: () => undefined });
  });
  after(async () => {
    await trainer.close();
  });

  test('adopts its continuation (batches trained before the run began) with the cold-restore weights', async () => {
    const reference = await trainer.run({ config, untilEpoch: 2 }).result;
    const first = trainer.run({ config, untilEpoch: 1, speculate: true });
    const base = await first.result;
    const bytes = encodeCheckpoint(base.state);
    const key = { sha256: 'c'.repeat(64), url: 's3://b/run/epoch=0001.ckpt' };
    trainer.keep(first.jobId, key);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the continuation trains meanwhile
    const began = Date.now();
    const progress: BatchProgress[] = [];
    const adopted = await trainer.run(
      { config, untilEpoch: 2, continueFrom: key, speculate: true },
      { onProgress: (p) => progress.push(p) },
    ).result;
    assert.ok(
      (progress[0]?.trainedAt ?? Infinity) < began,
      'its first batch was trained before the run began',
    );
    assert.equal(progress[0]?.batch, 0);
    assert.equal(progress[0]?.epoch, 1);
    // The cold path: the same epoch from the checkpoint's bytes (this discards the new continuation).
    const cold = await trainer.run({ config, untilEpoch: 2, from: decodeCheckpoint(bytes), speculate: true })
      .result;
    assert.equal(adopted.stopped, false);
    assert.equal(adopted.state.meta.weightsSha256, cold.state.meta.weightsSha256);
    assert.equal(adopted.state.meta.weightsSha256, reference.state.meta.weightsSha256);
    assert.deepEqual(adopted.state.meta.metrics, cold.state.meta.metrics);
    assert.deepEqual(adopted.state.meta.rng, cold.state.meta.rng);
    assert.deepEqual(adopted.state.meta.cursor, { ...cold.state.meta.cursor });
  });

  test('refuses to continue a session it does not hold; restores from bytes after a discard', async () => {
    const first = trainer.run({ config, untilEpoch: 1, speculate: true });
    const base = await first.result;
    const key = { sha256: 'd'.repeat(64), url: 's3://b/run/epoch=0001.ckpt' };
    trainer.keep(first.jobId, key);
    await assert.rejects(
      trainer.run({ config, untilEpoch: 2, continueFrom: { ...key, sha256: 'e'.repeat(64) } }).result,
      (e: unknown) => e instanceof TrainerRemoteError && e.remoteName === 'WarmSessionLostError',
    );
    // That request discarded the continuation: the right key is not held any more either.
    await assert.rejects(
      trainer.run({ config, untilEpoch: 2, continueFrom: key }).result,
      (e: unknown) => e instanceof TrainerRemoteError && /no warm session/.test(e.message),
    );
    const fresh = await trainer.run({ config, untilEpoch: 2 }).result;
    const restored = await trainer.run({
      config,
      untilEpoch: 2,
      from: decodeCheckpoint(encodeCheckpoint(base.state)),
    }).result;
    assert.equal(restored.state.meta.weightsSha256, fresh.state.meta.weightsSha256);
  });

  test('a stop during an adopted continuation ends at a batch boundary, resumable exactly', async () => {
    const long: RunConfig = { ...config, hparams: { dropout: 0.3, samples: 16000 }, epochs: 2 };
    const reference = await trainer.run({ config: long }).result;
    const first = trainer.run({ config: long, untilEpoch: 1, speculate: true });
    await first.result;
    const key = { sha256: 'f'.repeat(64), url: 's3://b/run/epoch=0001.ckpt' };
    trainer.keep(first.jobId, key);
    const run = trainer.run({ config: long, untilEpoch: 2, continueFrom: key });
    const stopped = await run.stop();
    assert.equal(stopped.stopped, true);
    const resumed = await trainer.run({
      config: long,
      untilEpoch: 2,
      from: decodeCheckpoint(encodeCheckpoint(stopped.state)),
    }).result;
    assert.equal(resumed.state.meta.weightsSha256, reference.state.meta.weightsSha256);
  });
});
