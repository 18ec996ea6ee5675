// Temporal over mutual TLS, configured only through Temporal's envconfig variables (TEMPORAL_TLS_*):
// a proxy that requires client certificates (test/helpers/tls-proxy.ts) stands in front of the test
// stack's dev server, which has no TLS flags. A worker and a client with certificates from our own CA
// run a tiny training run through it to the end; a client without a certificate, with one from another
// CA, or without TLS at all is refused.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { Connection } from '@temporalio/client';
import { connectClient, startTraining } from '../../src/client';
import { resolveOptions } from '../../src/config/options';
import { createCa, issueCertificate, writePrivateFile } from '../../src/stack/tls';
import { splitHostPort } from '../../src/config/options';
import { testStack } from '../helpers/stack-env';
import { startTlsProxy } from '../helpers/tls-proxy';
import type { TlsProxy } from '../helpers/tls-proxy';
import { startTestWorker, testEnv } from '../helpers/training';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-tls-temporal-'));
const ca = createCa('durable-fit test CA');
const file = (name: string, content: string, secret = false) => {
  const target = path.join(dir, name);
  if (secret) writePrivateFile(target, content);
  else fs.writeFileSync(target, content);
  return target;
};
let proxy: TlsProxy;
let tlsEnv: NodeJS.ProcessEnv;

before(async () => {
  const server = issueCertificate(ca, { commonName: 'temporal proxy', hosts: ['127.0.0.1', 'localhost'] });
  const client = issueCertificate(ca, { commonName: 'durable-fit worker', usage: 'client' });
  proxy = await startTlsProxy({
    target: splitHostPort(testStack().temporalAddress),
    cert: server.certPem,
    key: server.keyPem,
    clientCa: ca.certPem,
  });
  tlsEnv = {
    ...testEnv(),
    TEMPORAL_ADDRESS: proxy.address,
    TEMPORAL_TLS_CLIENT_CERT_PATH: file('client.crt', client.certPem),
    TEMPORAL_TLS_CLIENT_KEY_PATH: file('client.key', client.keyPem, true),
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: file('ca.crt', ca.certPem),
    TEMPORAL_TLS_SERVER_NAME: 'localhost',
  };
});

after(async () => {
  await proxy?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test(
  'a worker and a client with certificates train a run to the end through the mTLS proxy',
  { timeout: 120_000 },
  async () => {
    const taskQueue = `mtls-${process.pid}`;
    const options = resolveOptions(tlsEnv, { taskQueue, backend: 'cpu' });
    assert.equal(options.temporalAddress, proxy.address, 'nothing reaches the plain server directly');
    const worker = await startTestWorker(options, {}, tlsEnv);
    const client = await connectClient(options, tlsEnv);
    try {
      const spec = { task: 'synthetic', epochs: 2, seed: 5, batchSize: 16, hparams: { samples: 64 } };
      const handle = await startTraining(client, spec, { workflowId: `mtls-${Date.now()}`, taskQueue });
      const result = await handle.result();
      assert.equal(result.epochs.length, 2);
      assert.match(result.weightsSha256, /^[0-9a-f]{64}$/);
      assert.ok(proxy.accepted() >= 2, `worker and client connected through TLS (${proxy.accepted()})`);
    } finally {
      await client.connection.close();
      await worker.stop();
    }
  },
);

test('a client without a certificate, with a foreign one, or without TLS is refused', async () => {
  const address = proxy.address;
  const serverRootCACertificate = Buffer.from(ca.certPem);
  const foreign = issueCertificate(createCa('someone else'), { commonName: 'intruder', usage: 'client' });
  const attempts: Record<string, Parameters<typeof Connection.connect>[0]> = {
    'no client certificate': { tls: { serverRootCACertificate, serverNameOverride: 'localhost' } },
    'a certificate from another CA': {
      tls: {
        serverRootCACertificate,
        serverNameOverride: 'localhost',
        clientCertPair: { crt: Buffer.from(foreign.certPem), key: Buffer.from(foreign.keyPem) },
      },
    },
    'no TLS': {},
  };
  for (const [what, extra] of Object.entries(attempts)) {
    const refusedBefore = proxy.refused();
    const acceptedBefore = proxy.accepted();
    await assert.rejects(
      Connection.connect({ address, connectTimeout: 3000, ...extra }).then(async (c) => {
        await c.workflowService.getSystemInfo({}); // a lazy connection must still fail on its first call
        await c.close();
      }),
      what,
    );
    assert.ok(proxy.refused() > refusedBefore, `the proxy refused the handshake: ${what}`);
    assert.equal(proxy.accepted(), acceptedBefore, `nothing was forwarded: ${what}`);
  }
});
