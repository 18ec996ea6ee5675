// Routing names (README: Routing): the fingerprint holds only what changes the bits, and a run's
// epochs go to its resumed checkpoint's backend or else to the backend of the worker preparing it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backendFingerprint, backendQueue, chooseRoute, workerRoute } from '../../src/training/routing';
import { TrainerSlots } from '../../activities/trainer-slots';
import { TrainerBusyError } from '../../src/training/errors';
import type { TrainerProcess } from '../../src/training/trainer-process';

const wasm = { name: 'wasm', versions: { 'tfjs-core': '4.22.0', 'tfjs-backend-wasm': '4.22.0' } };
const cpu = { name: 'cpu', versions: { 'tfjs-core': '4.22.0', 'tfjs-backend-cpu': '4.22.0' } };

test('a fingerprint is the backend name and 8 hex of name, versions and flags', () => {
  const fp = backendFingerprint(wasm);
  assert.match(fp, /^wasm-[0-9a-f]{8}$/);
  assert.equal(backendFingerprint({ ...wasm, versions: { ...wasm.versions } }), fp, 'stable');
  const reordered = { name: 'wasm', versions: { 'tfjs-backend-wasm': '4.22.0', 'tfjs-core': '4.22.0' } };
  assert.equal(backendFingerprint(reordered), fp, 'key order does not matter');
  assert.notEqual(backendFingerprint(cpu), fp);
  assert.notEqual(backendFingerprint({ ...wasm, versions: { ...wasm.versions, 'tfjs-core': '4.23.0' } }), fp);
  const native = { name: 'tensorflow', versions: { tensorflow: '2.21.0' } };
  assert.notEqual(
    backendFingerprint({ ...native, flags: { TF_ENABLE_ONEDNN_OPTS: '0' } }),
    backendFingerprint({ ...native, flags: { TF_ENABLE_ONEDNN_OPTS: '1' } }),
  );
  // Recorded in checkpoints but not a property of the bits a backend produces.
  const resumed = { ...wasm, crossBackendResume: true } as typeof wasm;
  assert.equal(backendFingerprint(resumed), fp);
});

test('queue names: <taskQueue>@<fingerprint>', () => {
  assert.equal(backendQueue('durable-fit', 'wasm-1a2b3c4d'), 'durable-fit@wasm-1a2b3c4d');
  assert.equal(workerRoute('q', cpu), `q@${backendFingerprint(cpu)}`);
});

test("a run goes to its resumed checkpoint's backend, else to the preparing worker's", () => {
  const mine = workerRoute('q', wasm);
  assert.equal(chooseRoute({ taskQueue: 'q', workerRoute: mine, allowBackendChange: false }), mine);
  assert.equal(
    chooseRoute({ taskQueue: 'q', workerRoute: mine, resumeBackend: cpu, allowBackendChange: false }),
    workerRoute('q', cpu),
  );
  assert.equal(
    chooseRoute({ taskQueue: 'q', workerRoute: mine, resumeBackend: cpu, allowBackendChange: true }),
    mine,
    'a run allowed to change backend stays where it was prepared',
  );
});

test('trainer slots: warm slot first, then an empty one, then the least recently used; busy when full', () => {
  const slots = new TrainerSlots({ slots: 3 });
  const warm = (sha256: string, jobId: number) => ({
    trainer: {} as TrainerProcess,
    jobId,
    key: {
      config: { task: 't', seed: 1, batchSize: 1, epochs: 2 },
      specExtras: {},
      allowBackendChange: false,
      untilEpoch: 1,
      saved: { sha256, url: `s3://b/${sha256}.ckpt` },
    },
  });
  const [a, b] = [slots.acquire(), slots.acquire()];
  a.warm = warm('sha-a', 1);
  b.warm = warm('sha-b', 2);
  slots.release(a);
  slots.release(b);
  assert.equal(slots.acquire('sha-b'), b, 'the slot warm for that checkpoint');
  assert.ok(slots.isWarm('sha-a'), 'warm sessions are found in any slot');
  assert.ok(!slots.isWarm('sha-x'));
  const c = slots.acquire('sha-x');
  assert.equal(c, slots.slots[2], 'a slot holding nothing warm before evicting a warm one');
  assert.equal(slots.acquire(), a, 'then a warm one');
  assert.throws(() => slots.acquire(), TrainerBusyError, 'no free slot');
  c.warm = warm('sha-c', 3);
  slots.release(c);
  slots.release(b);
  assert.equal(slots.acquire('sha-x'), b, 'the least recently used of the warm ones');
  assert.throws(() => new TrainerSlots({ slots: 0 }), RangeError);
});
