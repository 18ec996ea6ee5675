// The metrics port without a server: the recorder on a (fake) SDK meter labels and filters what it
// records, the epoch meter turns progress into steps, rate and lag and counts recoveries by kind
// (a resume after a pause is not one), and the metered store reports every save and load.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MetricMeter, MetricTags } from '@temporalio/common';
import { encodeCheckpointParts } from '../../src/checkpoint/format';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { EpochMeter } from '../../src/metrics/epoch-meter';
import { createMeterRecorder } from '../../src/metrics/meter-recorder';
import { meteredStore } from '../../src/metrics/metered-store';
import type { MetricsRecorder } from '../../src/metrics/recorder';
import { NO_METRICS } from '../../src/metrics/recorder';
import { readRssBytes } from '../../src/metrics/trainer-rss';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { sampleState } from '../helpers/checkpoint-fixtures';

type Call = [name: string, value: number, tags: MetricTags];

/** A MetricMeter that writes down every value with its name and tags. */
function recordingMeter(calls: Call[]): MetricMeter {
  const metric = (name: string) => {
    const write = (value: number, tags: MetricTags = {}) => calls.push([name, value, tags]);
    const m = { name, add: write, set: write, record: write, withTags: () => m };
    return m as never;
  };
  const meter: MetricMeter = {
    createCounter: metric,
    createGauge: metric,
    createHistogram: metric,
    withTags: () => meter,
  };
  return meter;
}

/** A recorder that writes down each call as `method value labels…`. */
function callLog(): { recorder: MetricsRecorder; calls: string[] } {
  const calls: string[] = [];
  const make = (labels: Record<string, string>): MetricsRecorder => {
    const log =
      (method: string) =>
      (...args: unknown[]) =>
        calls.push([method, ...args.map(String), ...Object.values(labels)].join(' '));
    return {
      withLabels: (more) => make({ ...labels, ...more }),
      addSteps: log('steps'),
      setStepsPerSecond: log('rate'),
      setLoss: log('loss'),
      observeEpochSeconds: log('epoch'),
      observeCheckpoint: log('ckpt'),
      countRecovery: log('recovery'),
      addStepsRedone: log('redone'),
      setGoodput: log('goodput'),
      setHeartbeatLag: log('lag'),
      setTrainerRss: log('rss'),
    };
  };
  return { recorder: make({}), calls };
}

describe('the recorder on the SDK meter', () => {
  test('labels add up, checkpoint ops and recovery kinds become labels, junk values are dropped', () => {
    const calls: Call[] = [];
    const recorder = createMeterRecorder(recordingMeter(calls)).withLabels({ backend: 'cpu' });
    const run = recorder.withLabels({ task: 'synthetic' });
    run.addSteps(3);
    run.addSteps(0);
    run.setLoss(NaN);
    run.setLoss(0.5);
    run.observeCheckpoint('save', 1234, 0.02);
    run.countRecovery('crash');
    run.setHeartbeatLag(-1);
    const both = { backend: 'cpu', task: 'synthetic' };
    assert.deepEqual(calls, [
      ['dfit_training_steps_total', 3, both],
      ['dfit_training_loss', 0.5, both],
      ['dfit_checkpoint_bytes_total', 1234, { ...both, op: 'save' }],
      ['dfit_checkpoint_seconds', 0.02, { ...both, op: 'save' }],
      ['dfit_recoveries_total', 1, { ...both, kind: 'crash' }],
      ['dfit_heartbeat_lag_seconds', 0, both],
    ]);
  });

  test('the default recorder records nothing and stays itself under labels', () => {
    assert.equal(NO_METRICS.withLabels({ task: 't' }), NO_METRICS);
  });
});

describe('the epoch meter', () => {
  test('steps count from the starting cursor, the rate spans at least a second, close zeroes the gauges', () => {
    let now = 0;
    const { recorder, calls } = callLog();
    const meter = new EpochMeter(recorder, { startStep: 100, now: () => now });
    meter.progress(104, 0.9); // first message: starts the rate window
    now = 500;
    meter.progress(110, 0.8);
    now = 1000;
    meter.progress(120, 0.7); // 16 steps in 1 s since the window began
    meter.heartbeat();
    meter.finished(2500);
    meter.close();
    assert.deepEqual(calls, [
      'steps 4',
      'loss 0.9',
      'steps 6',
      'loss 0.8',
      'steps 10',
      'loss 0.7',
      'rate 16',
      'lag 1', // the gap this heartbeat ends: 1 s since the meter started
      'epoch 2.5',
      'lag 0',
      'rate 0',
    ]);
  });

  test('a resumed attempt counts as a recovery of its kind; a pause or a first attempt does not', () => {
    const kinds = (options: ConstructorParameters<typeof EpochMeter>[1]) => {
      const { recorder, calls } = callLog();
      new EpochMeter(recorder, options).close();
      return calls.filter((c) => c.startsWith('recovery'));
    };
    assert.deepEqual(kinds({ startStep: 0, recoveryKind: 'crash' }), ['recovery crash']);
    assert.deepEqual(kinds({ startStep: 0, recoveryKind: 'preemption', attempt: 2 }), [
      'recovery preemption',
    ]);
    assert.deepEqual(kinds({ startStep: 0, recoveryKind: 'pause' }), []);
    assert.deepEqual(kinds({ startStep: 0, attempt: 2 }), ['recovery retry']);
    assert.deepEqual(kinds({ startStep: 0 }), []);
  });

  test('a resumed attempt adds the steps its failure lost to dfit_steps_redone_total; the goodput gauge is set', () => {
    const calls = (options: ConstructorParameters<typeof EpochMeter>[1]) => {
      const log = callLog();
      new EpochMeter(log.recorder, options).close();
      return log.calls.filter((c) => c.startsWith('redone') || c.startsWith('goodput'));
    };
    assert.deepEqual(calls({ startStep: 40, recoveryKind: 'crash', stepsRedone: 7, goodput: 0.9 }), [
      'redone crash 7',
      'goodput 0.9',
    ]);
    assert.deepEqual(calls({ startStep: 40, recoveryKind: 'preemption', stepsRedone: 0 }), []);
    assert.deepEqual(calls({ startStep: 0, goodput: 1 }), ['goodput 1']);
  });
});

test('the metered store reports the bytes of each save and of each load, load() included', async () => {
  const { recorder, calls } = callLog();
  const store = meteredStore(new ObjectCheckpointIO(createMemoryObjectClient('bucket-m')), recorder);
  const saved = await store.save('run', sampleState());
  await store.load(saved.url, { sha256: saved.sha256 });
  await store.loadBytes(saved.url);
  const ckpt = calls.map((c) => c.split(' ').slice(0, 3).join(' '));
  assert.deepEqual(ckpt, [
    `ckpt save ${saved.bytes}`,
    `ckpt load ${saved.bytes}`,
    `ckpt load ${saved.bytes}`,
  ]);
  assert.equal(store.bucket, 'bucket-m', 'everything else is the same store');
});

test('saveEncoded (shard and global checkpoints, model.save) and loadSource are metered too', async () => {
  const { recorder, calls } = callLog();
  const store = meteredStore(new ObjectCheckpointIO(createMemoryObjectClient('bucket-m')), recorder);
  const state = sampleState();
  const url = 's3://bucket-m/par/parallel/round=000001/global.ckpt';
  const encoded = await store.saveEncoded(url, encodeCheckpointParts(state));
  assert.equal(encoded.url, url);
  const saved = await store.save('src', state);
  const source = await store.loadSource(saved.url);
  assert.equal(source.sha256, saved.sha256);
  await store.stat(encoded.url);
  await store.remove(encoded.url);
  assert.deepEqual(
    calls.map((c) => c.split(' ').slice(0, 3).join(' ')),
    [`ckpt save ${encoded.bytes}`, `ckpt save ${saved.bytes}`, `ckpt load ${saved.bytes}`],
    'one save each, one load; stat and remove move no checkpoint bytes',
  );
});

test('trainer RSS is read from /proc for a live process, and is unknown for one that is gone', async () => {
  const rss = await readRssBytes(process.pid);
  if (process.platform === 'linux') assert.ok(rss !== undefined && rss > 1e6, `rss ${rss}`);
  assert.equal(await readRssBytes(2 ** 22 + 12345), undefined);
});
