// Deadlines of S3 calls against a local HTTP server that accepts connections and never answers
// (what a SIGSTOPped MinIO looks like from the client): every call of the real minio-js adapter
// rejects with S3DeadlineError near its deadline and its connections are closed, multipart parts
// included (the other parts in flight end with the first, and the upload is aborted afterwards).
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import { deadlineMs, S3DeadlineError } from '../../src/storage/deadline';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import type { ObjectClient } from '../../src/storage/object-client';

const BASE_MS = 300;
const PER_MIB_MS = 20;
const open = new Set<Socket>();
const seen: string[] = [];
let server: http.Server;
let objects: ObjectClient;
let hangInitiate = false;

/** Answers only what a multipart upload needs before its parts; every other request hangs. */
function handle(req: http.IncomingMessage, res: http.ServerResponse) {
  seen.push(`${req.method} ${req.url}`);
  const url = req.url ?? '';
  if (req.method === 'POST' && url.includes('uploads') && !hangInitiate) {
    res.end('<InitiateMultipartUploadResult><UploadId>u1</UploadId></InitiateMultipartUploadResult>');
  } else if (req.method === 'PUT' && url.includes('.uploads')) {
    req.resume();
    req.on('end', () => res.end());
  } else if (req.method === 'DELETE' && url.includes('uploadId')) {
    res.statusCode = 204;
    res.end();
  } else if (req.method === 'GET' && url.includes('slow-body')) {
    res.writeHead(200, { 'content-length': '1000' });
    res.write('x'); // then nothing: a body that stalls
  } else req.resume(); // hung: read what comes, never answer
}

before(async () => {
  server = http.createServer(handle);
  server.on('connection', (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  objects = createMinioObjectClient(
    {
      endpoint: `http://127.0.0.1:${port}`,
      accessKey: 'a',
      secretKey: 'secret-key',
      region: 'us-east-1',
      bucket: 'bucket-b',
    },
    {
      multipartThresholdBytes: 5 * 1024 * 1024,
      partSizeBytes: 5 * 1024 * 1024,
      deadline: { baseMs: BASE_MS, perMiBMs: PER_MIB_MS },
    },
  );
});
after(() => {
  for (const socket of open) socket.destroy();
  server.close();
});

async function settlesWithDeadline(call: () => Promise<unknown>, boundMs: number) {
  const started = Date.now();
  await assert.rejects(call(), S3DeadlineError);
  const took = Date.now() - started;
  assert.ok(took >= BASE_MS - 20 && took < boundMs + 400, `took ${took} ms, deadline ${boundMs} ms`);
}

async function noConnectionLeft() {
  for (let i = 0; i < 50 && open.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(open.size, 0, 'every connection of a timed-out call is closed');
}

describe('S3 calls against a hung store', () => {
  test('HEAD, LIST, DELETE and GET reject at the base deadline and close their connections', async () => {
    await settlesWithDeadline(() => objects.stat('run/a.ckpt'), BASE_MS);
    await settlesWithDeadline(() => objects.list('run/'), BASE_MS);
    await settlesWithDeadline(() => objects.remove('run/a.ckpt'), BASE_MS);
    await settlesWithDeadline(() => objects.get('run/a.ckpt'), BASE_MS);
    await noConnectionLeft();
  });

  test('a single PUT gets a deadline scaled by its size', async () => {
    const body = Buffer.alloc(2 * 1024 * 1024);
    await settlesWithDeadline(
      () => objects.put('run/b.ckpt', body),
      deadlineMs({ baseMs: BASE_MS, perMiBMs: PER_MIB_MS }, body.length),
    );
    await noConnectionLeft();
  });

  test('a stream of unknown size (uploaded in parts): its first call gets the base deadline', async () => {
    hangInitiate = true;
    try {
      await settlesWithDeadline(
        () => objects.put('run/d.ckpt', Readable.from([Buffer.alloc(1024)])),
        BASE_MS,
      );
    } finally {
      hangInitiate = false;
    }
    await noConnectionLeft();
  });

  test('a body that stalls after the headers is destroyed at the deadline', async () => {
    const body = await objects.get('run/slow-body.ckpt');
    await assert.rejects(buffer(body), S3DeadlineError);
    await noConnectionLeft();
  });

  test('a multipart upload: a hung part ends every part in flight, then the upload is aborted', async () => {
    seen.length = 0;
    const chunks = [Buffer.alloc(12 * 1024 * 1024)]; // three parts, all in flight at once
    const partDeadline = deadlineMs({ baseMs: BASE_MS, perMiBMs: PER_MIB_MS }, 5 * 1024 * 1024);
    await settlesWithDeadline(
      () => objects.put('run/c.ckpt', chunks, { size: chunks[0]?.length }),
      partDeadline,
    );
    assert.equal(seen.filter((s) => s.includes('partNumber=')).length, 3, seen.join('\n'));
    await noConnectionLeft();
    for (let i = 0; i < 50 && !seen.some((s) => s.startsWith('DELETE') && s.includes('uploadId=u1')); i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.ok(
      seen.some((s) => s.startsWith('DELETE') && s.includes('uploadId=u1')),
      seen.join('\n'),
    );
  });
});
