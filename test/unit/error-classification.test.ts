// Every error class declares whether it is permanent, and the activity boundary turns that, once,
// into the ApplicationFailure the workflow classifies. A new error class without a declaration fails
// the first test here, so it cannot silently become "infrastructure, retry ten times".
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ActivityFailure, ApplicationFailure, RetryState } from '@temporalio/common';
import { createActivities } from '../../activities';
import type { ActivityDeps } from '../../activities';
import { toActivityFailure } from '../../activities/boundary';
import * as api from '../../src';
import { CheckpointCorruptError, CheckpointNotFoundError } from '../../src/checkpoint/errors';
import type { CheckpointIO } from '../../src/checkpoint/checkpoint-io';
import type { RunFolder } from '../../src/checkpoint/run-folder';
import { FAILURE_KINDS } from '../../src/failure-kind';
import type { FailureKind } from '../../src/failure-kind';
import { BackendUnsupportedError } from '../../src/training/errors';
import { serializeError } from '../../src/training/protocol';
import { toError } from '../../src/training/trainer-process';
import { CHECKPOINT_UNUSABLE_TYPES } from '../../src/contract';
import { classifyFailure } from '../../workflows/recovery';

type ErrorClass = (abstract new (...args: never[]) => Error) & { failureKind?: FailureKind };

/**
 * Every `export class …Error` in the folders whose errors can reach an activity's caller, found by
 * reading the files. (Errors thrown in `workflows/` never cross the activity boundary.)
 */
async function errorClassesInSource(): Promise<Map<string, ErrorClass>> {
  const classes = new Map<string, ErrorClass>();
  for (const file of sourceFiles(['src', 'activities'])) {
    const names = [...fs.readFileSync(file, 'utf8').matchAll(/^export class (\w+Error) extends /gm)];
    if (names.length === 0) continue;
    const mod = (await import(path.resolve(file))) as Record<string, unknown>;
    for (const [, name] of names) classes.set(name as string, mod[name as string] as ErrorClass);
  }
  return classes;
}

function sourceFiles(dirs: string[]): string[] {
  return dirs.flatMap((dir) =>
    fs.readdirSync(dir, { withFileTypes: true, recursive: true }).flatMap((entry) => {
      const full = path.join(entry.parentPath, entry.name);
      return entry.isFile() && full.endsWith('.ts') && !full.endsWith('.d.ts') ? [full] : [];
    }),
  );
}

/** Error classes users can import from the public API (abstract bases have no kind of their own). */
function errorClassesInApi(): Map<string, ErrorClass> {
  const abstractBases = new Set(['TrainingEngineError', 'CheckpointError']);
  const out = new Map<string, ErrorClass>();
  for (const [name, value] of Object.entries(api)) {
    if (typeof value !== 'function' || abstractBases.has(name)) continue;
    if (value.prototype instanceof Error) out.set(name, value as ErrorClass);
  }
  return out;
}

/** An instance without running the constructor: the boundary reads only the class and message. */
function instanceOf(cls: ErrorClass, message: string): Error {
  const err = Object.create(cls.prototype as object) as Error;
  Object.defineProperty(err, 'message', { value: message });
  return err;
}

function asActivityFailure(cause: Error): ActivityFailure {
  return new ActivityFailure(
    'activity failed',
    'trainEpoch',
    '1',
    RetryState.NON_RETRYABLE_FAILURE,
    'w',
    cause,
  );
}

const all = async () => new Map([...(await errorClassesInSource()), ...errorClassesInApi()]);

test('every error class declares its own failure kind', async () => {
  const classes = await all();
  assert.ok(classes.size >= 30, `found only ${classes.size} error classes`);
  const missing = [...classes].filter(([, cls]) => !Object.hasOwn(cls, 'failureKind')).map(([n]) => n);
  assert.deepEqual(
    missing,
    [],
    `declare \`static readonly failureKind: FailureKind\` on ${missing.join(', ')}`,
  );
  for (const [name, cls] of classes) assert.ok(FAILURE_KINDS.includes(cls.failureKind as FailureKind), name);
});

test("the workflow's unusable-checkpoint set is exactly the classes that declare it", async () => {
  const unusable = [...(await all())].filter(([, cls]) => cls.failureKind === 'unusable-checkpoint');
  assert.deepEqual(unusable.map(([name]) => name).sort(), [...CHECKPOINT_UNUSABLE_TYPES].sort());
});

test('the boundary and the workflow classify every error class by its declared kind', async () => {
  const expected = {
    permanent: 'fatal',
    'unusable-checkpoint': 'unusable-checkpoint',
    transient: 'infrastructure',
  };
  for (const [name, cls] of await all()) {
    const failure = toActivityFailure(instanceOf(cls, `boom from ${name}`));
    assert.ok(failure instanceof ApplicationFailure, name);
    assert.equal(failure.type, name, 'typed by class name');
    assert.equal(failure.nonRetryable, cls.failureKind !== 'transient', `${name} nonRetryable`);
    assert.equal(
      classifyFailure(asActivityFailure(failure)).kind,
      expected[cls.failureKind as FailureKind],
      name,
    );
  }
});

test('a conv task on wasm fails the run at once instead of being retried as infrastructure', () => {
  const err = new BackendUnsupportedError('mnist-cnn', 'wasm', "no 'Conv2DBackpropFilter' kernel");
  const failure = toActivityFailure(err) as ApplicationFailure;
  assert.equal(failure.nonRetryable, true);
  const classified = classifyFailure(asActivityFailure(failure));
  assert.equal(classified.kind, 'fatal');
  assert.match(classified.reason, /Use DFIT_BACKEND=cpu/);
});

test('permanence survives the trainer process boundary, with the remote class name as type', () => {
  const remote = toError(serializeError(new BackendUnsupportedError('mnist-cnn', 'wasm', 'no kernel')));
  const failure = toActivityFailure(remote) as ApplicationFailure;
  assert.equal(failure.type, 'BackendUnsupportedError');
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, /^task "mnist-cnn" cannot train on the wasm backend/);
  const bug = toActivityFailure(
    toError(serializeError(new TypeError('x is undefined'))),
  ) as ApplicationFailure;
  assert.equal(bug.type, 'TypeError');
  assert.equal(bug.nonRetryable, false, 'an unclassified error in the trainer stays retryable');
});

test('a wrapper keeps its cause’s kind and both messages', () => {
  const corrupt = new CheckpointCorruptError(
    'hash-mismatch',
    'sha256 differs',
    's3://b/run/epoch=0001-step=0000010.ckpt',
  );
  const wrapped = new Error('load checkpoint failed [url=s3://b/run/epoch=0001-step=0000010.ckpt]', {
    cause: corrupt,
  });
  const failure = toActivityFailure(wrapped) as ApplicationFailure;
  assert.equal(failure.type, 'CheckpointCorruptError');
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, /^load checkpoint failed .*: checkpoint .* is corrupt/);
  const plain = toActivityFailure(new Error('socket hang up')) as ApplicationFailure;
  assert.deepEqual([plain.type, plain.nonRetryable], ['Error', false]);
  const paused = ApplicationFailure.create({ type: 'Paused', message: 'paused', nonRetryable: false });
  assert.equal(toActivityFailure(paused), paused, 'decided failures pass unchanged');
});

test('createActivities wraps its activities in the boundary', async () => {
  // Only what these inputs reach matters; any other store or folder call succeeds with nothing.
  const calls: Record<string, unknown> = {
    bucket: 'b',
    list: () => Promise.resolve([]),
    listFolderKeys: () => Promise.resolve([]),
    stat: (url: string) => Promise.reject(new CheckpointNotFoundError(url)),
    loadSource: (url: string) => Promise.reject(new CheckpointNotFoundError(url)),
  };
  const either = new Proxy(calls, {
    get: (target, key: string) => target[key] ?? (() => Promise.resolve(undefined)),
  });
  const [store, runs] = [either as unknown as CheckpointIO, either as unknown as RunFolder];
  const acts = createActivities({ store, runs, engine: {} } as unknown as ActivityDeps);
  const spec = { task: 'synthetic', epochs: 1, seed: 1, batchSize: 8 };
  await assert.rejects(acts.prepareRun({ spec: { ...spec, epochs: -1 }, workflowId: 'w' }), {
    type: 'InvalidSpecError',
    nonRetryable: true,
  });
  const resumeFrom = 's3://b/w/epoch=0001-step=0000010.ckpt';
  await assert.rejects(acts.prepareRun({ spec: { ...spec, resumeFrom }, workflowId: 'w' }), {
    type: 'CheckpointNotFoundError',
    nonRetryable: true,
  });
});
