// The minio-js adapter against the real MinIO behind the fault matrix's 500-answering proxy
// (test/fault/matrix/s3-error-proxy.ts): an HTTP 500 is an answer, so a write that gets one is
// resent with its whole body and completes, and one that keeps getting them fails at once with a
// retryable error, never waiting for its S3 deadline (5 s here) as if the store were hung. Single
// PUTs and multipart parts are sent as streams over the caller's chunks, which is where a resend
// used to go out without its body.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { classifyError } from '../../src/failure-kind';
import { S3DeadlineError } from '../../src/storage/deadline';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import { ObjectExistsError } from '../../src/storage/object-client';
import type { ObjectClient } from '../../src/storage/object-client';
import { S3ServerError } from '../../src/storage/server-errors';
import { startS3ErrorProxy } from '../fault/matrix/s3-error-proxy';
import type { S3ErrorProxy } from '../fault/matrix/s3-error-proxy';
import { testStack } from '../helpers/stack-env';

const MiB = 1024 * 1024;
const DEADLINE = { baseMs: 5_000, perMiBMs: 0 };
/** Far below the deadline: a call that waited for it took at least 5 s. */
const PROMPT_MS = 2_000;
const connection: MinioConnection = {
  ...testStack().s3,
  bucket: `s3-500s-${process.pid}-${Date.now() % 1e6}`,
};
const direct = createMinioObjectClient(connection);
let proxy: S3ErrorProxy;
let objects: ObjectClient;

before(async () => {
  await direct.makeBucket();
  proxy = await startS3ErrorProxy(connection.endpoint);
  objects = createMinioObjectClient(
    { ...connection, endpoint: proxy.endpoint },
    { multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB, deadline: DEADLINE },
  );
});

after(async () => {
  await proxy?.close();
  for (const o of await direct.list('')) await direct.remove(o.key);
});

const isPut = (method: string, url: string) => method === 'PUT' && !url.includes('partNumber=');
const isPart = (method: string, url: string) => method === 'PUT' && url.includes('partNumber=');
const isComplete = (method: string, url: string) => method === 'POST' && url.includes('uploadId=');

/** Distinct random chunks of these sizes, and their concatenation. */
function chunksOf(...sizes: number[]): { chunks: Buffer[]; whole: Buffer } {
  const chunks = sizes.map((n) => randomBytes(n));
  return { chunks, whole: Buffer.concat(chunks) };
}

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  const value = await fn();
  return { value, ms: Date.now() - started };
}

async function rejection(fn: () => Promise<unknown>): Promise<{ error: Error; ms: number }> {
  const { value, ms } = await timed(() =>
    fn().then(
      () => assert.fail('the call succeeded although every answer was a 500'),
      (err: unknown) => err as Error,
    ),
  );
  return { error: value, ms };
}

/** A prompt failure that our own layer names and classifies as retryable, not a hung store. */
function assertPromptServerError(
  { error, ms }: { error: Error; ms: number },
  { tries = 3, bodyless = false } = {},
) {
  assert.ok(!(error instanceof S3DeadlineError), `waited for the deadline: ${error.message}`);
  assert.ok(ms < PROMPT_MS, `failed after ${ms} ms`);
  assert.ok(error instanceof S3ServerError, `${error.name}: ${error.message}`);
  assert.equal(error.status, 500);
  // Read from the answer's XML; a HEAD's answer has no body to name it.
  assert.equal(error.s3Code, bodyless ? undefined : 'InternalError');
  assert.equal(error.tries, tries);
  assert.equal(classifyError(error).kind, 'transient');
  assert.equal(classifyError(error).type, 'S3ServerError');
}

/** Sockets to the proxy still held by a request (a reply nobody read keeps its socket busy). */
async function busySockets(): Promise<number> {
  const port = new URL(proxy.endpoint).port;
  let busy = 0;
  for (let i = 0; i < 50; i++) {
    const sockets = Object.entries(http.globalAgent.sockets).filter(([name]) => name.includes(`:${port}:`));
    busy = sockets.reduce((n, [, list]) => n + (list?.length ?? 0), 0);
    if (busy === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return busy;
}

describe('S3 answering 500s, through the real MinIO', () => {
  test('a single PUT answered 500 once is resent with its whole body and completes', async () => {
    const { chunks, whole } = chunksOf(300_000, 1, 700_000); // several chunks: a streamed body
    proxy.failNext(1, isPut);
    const before = proxy.failed;
    const { ms } = await timed(() => objects.put('single/once.ckpt', chunks, { ifNoneMatch: true }));
    assert.equal(proxy.failed - before, 1, 'the first try was answered 500');
    assert.ok(ms < PROMPT_MS, `took ${ms} ms`);
    assert.ok((await buffer(await direct.get('single/once.ckpt'))).equals(whole), 'the stored bytes');
    assert.equal(await busySockets(), 0);
  });

  test('a single PUT answered 500 every time fails at once with a retryable error', async () => {
    const { chunks } = chunksOf(200_000, 300_000);
    proxy.failNext(1_000, isPut);
    try {
      assertPromptServerError(await rejection(() => objects.put('single/always.ckpt', chunks)));
    } finally {
      proxy.failNext(0);
    }
    assert.equal(await direct.stat('single/always.ckpt'), undefined);
    assert.equal(await busySockets(), 0, 'the 500 replies were read and their sockets freed');
  });

  test('a stream body of known size cannot be resent: one 500 fails it at once, retryably', async () => {
    const { chunks } = chunksOf(100_000, 100_000);
    proxy.failNext(1, isPut);
    const body = Readable.from(chunks);
    const failure = await rejection(() => objects.put('single/stream.ckpt', body, { size: 200_000 }));
    assertPromptServerError(failure, { tries: 1 });
    assert.equal(await direct.stat('single/stream.ckpt'), undefined);
  });

  test('a create-only PUT the store carried out but answered 500: its resend is no proof of another writer', async () => {
    const { chunks, whole } = chunksOf(100_000, 50_000);
    proxy.failNext(1, isPut, { carriedOut: true });
    const { error, ms } = await rejection(() =>
      objects.put('single/stored.ckpt', chunks, { ifNoneMatch: true }),
    );
    assert.ok(!(error instanceof ObjectExistsError), 'not a permanent "exists": the first try stored it');
    assert.ok(error instanceof S3ServerError, `${error.name}: ${error.message}`);
    assert.equal(error.status, 500);
    assert.equal(error.tries, 2);
    assert.match(error.message, /the first try may have stored it/);
    assert.equal(classifyError(error).kind, 'transient');
    assert.ok(ms < PROMPT_MS, `took ${ms} ms`);
    assert.ok(
      (await buffer(await direct.get('single/stored.ckpt'))).equals(whole),
      'the first try stored it',
    );
    // Without a server error first, "it exists" is another writer's object: permanent.
    await assert.rejects(objects.put('single/stored.ckpt', chunks, { ifNoneMatch: true }), ObjectExistsError);
  });

  test('a multipart part answered 500 once is resent with its whole body', async () => {
    // 12 MiB in 4 MiB chunks as 5 MiB parts: parts 1 and 2 each span two chunks (streamed bodies).
    const { chunks, whole } = chunksOf(4 * MiB, 4 * MiB, 4 * MiB);
    proxy.failNext(2, isPart);
    const before = proxy.failed;
    const { ms } = await timed(() => objects.put('multi/once.ckpt', chunks, { ifNoneMatch: true }));
    assert.equal(proxy.failed - before, 2);
    assert.ok(ms < PROMPT_MS + 2_000, `took ${ms} ms`);
    assert.ok((await buffer(await direct.get('multi/once.ckpt'))).equals(whole), 'the stored bytes');
    assert.deepEqual(await direct.listIncompleteUploads('multi/'), []);
  });

  test('multipart parts answered 500 every time fail the upload at once; it is aborted', async () => {
    const { chunks } = chunksOf(4 * MiB, 4 * MiB, 4 * MiB);
    proxy.failNext(1_000, isPart);
    try {
      assertPromptServerError(await rejection(() => objects.put('multi/always.ckpt', chunks)));
    } finally {
      proxy.failNext(0);
    }
    assert.equal(await direct.stat('multi/always.ckpt'), undefined);
    assert.deepEqual(await direct.listIncompleteUploads('multi/'), []);
    assert.equal(await busySockets(), 0);
  });

  test('a Complete answered 500 is not sent again: the upload fails at once and is aborted', async () => {
    const { chunks } = chunksOf(4 * MiB, 4 * MiB);
    proxy.failNext(1, isComplete);
    const failure = await rejection(() => objects.put('multi/complete.ckpt', chunks, { ifNoneMatch: true }));
    assertPromptServerError(failure, { tries: 1 });
    assert.equal(await direct.stat('multi/complete.ckpt'), undefined);
    assert.deepEqual(await direct.listIncompleteUploads('multi/'), []);
  });

  test('reads and deletes answered 500 once are resent and succeed', async () => {
    const { whole } = chunksOf(50_000);
    await direct.put('reads/a.bin', whole);
    for (const call of [
      async () => assert.equal((await objects.stat('reads/a.bin'))?.size, whole.length),
      async () => assert.ok((await buffer(await objects.get('reads/a.bin'))).equals(whole)),
      async () =>
        assert.ok(
          (await buffer((await objects.getRange('reads/a.bin', 10, 5)).body)).equals(whole.subarray(10, 15)),
        ),
      async () =>
        assert.deepEqual(
          (await objects.list('reads/')).map((o) => o.key),
          ['reads/a.bin'],
        ),
      async () => {
        await objects.remove('reads/a.bin');
        assert.equal(await direct.stat('reads/a.bin'), undefined);
      },
    ]) {
      proxy.failNext(1);
      const before = proxy.failed;
      const { ms } = await timed(call);
      assert.equal(proxy.failed - before, 1);
      assert.ok(ms < PROMPT_MS, `took ${ms} ms`);
    }
  });

  test('reads answered 500 every time fail at once with a retryable error', async () => {
    await direct.put('reads/b.bin', chunksOf(1_000).whole);
    proxy.fail(true);
    try {
      assertPromptServerError(await rejection(() => objects.stat('reads/b.bin')), { bodyless: true });
      assertPromptServerError(await rejection(() => objects.get('reads/b.bin')));
    } finally {
      proxy.fail(false);
    }
    assert.equal(await busySockets(), 0);
  });
});
