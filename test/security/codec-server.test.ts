// The codec server over real HTTP: CORS only for the configured UI origins, the bearer token, the
// routes of Temporal's codec protocol, and errors that say what went wrong.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import { AesGcmPayloadCodec } from '../../src/security/codec';
import { startCodecServer } from '../../src/security/codec-server';

const newKey = (id: string) => ({ id, key: crypto.randomBytes(32) });
const json = (value: unknown) => defaultPayloadConverter.toPayload(value);

test('codec server: CORS only for the UI origins, the bearer token, clear errors', async () => {
  const k1 = newKey('k1');
  const server = await startCodecServer({
    codec: new AesGcmPayloadCodec([k1]),
    port: 0,
    origins: ['http://127.0.0.1:8233'],
    authToken: 'tok',
  });
  const post = (route: string, body: string, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${route}`, {
      method: 'POST',
      body,
      headers: { authorization: 'Bearer tok', ...headers },
    });
  try {
    const preflight = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:8233',
        'access-control-request-headers': 'x-namespace,content-type',
      },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), 'http://127.0.0.1:8233');
    assert.match(preflight.headers.get('access-control-allow-headers') ?? '', /X-Namespace/);
    const foreign = await post('/decode', '{"payloads":[]}', { origin: 'http://evil.example' });
    assert.equal(foreign.status, 403);
    assert.equal(foreign.headers.get('access-control-allow-origin'), null);
    assert.equal((await post('/decode', '{"payloads":[]}', { authorization: 'Bearer nope' })).status, 401);
    assert.equal((await post('/decode', 'not json')).status, 400);
    assert.equal((await post('/other', '{}')).status, 404);
    const sealed = await new AesGcmPayloadCodec([newKey('gone')]).encode([json(1)]);
    const body = JSON.stringify({
      payloads: sealed.map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(p.data ?? []).toString('base64'),
      })),
    });
    const unknown = await post('/namespaces/default/decode', body);
    assert.equal(unknown.status, 422);
    assert.match(((await unknown.json()) as { error: string }).error, /key "gone"/);
  } finally {
    await server.close();
  }
});
