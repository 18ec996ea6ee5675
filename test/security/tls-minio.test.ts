// `stack up --tls` on its own ports and state folder: MinIO serves TLS with a certificate from the
// stack's local CA; a checkpoint saves and loads through the store with the CA trusted (found through
// the stack's credentials file, with no S3 variable set) and is refused without it; plain HTTP gets no
// answer; keys and credentials are 0600 in 0700 folders.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createStore, s3Connection } from '../../src/checkpoint/create-store';
import { connectClient, startTraining } from '../../src/client';
import { resolveOptions } from '../../src/config/options';
import type { DurableFitOptions } from '../../src/config/options';
import { freePorts } from '../../src/stack/ports';
import { stackDown, stackUp } from '../../src/stack/stack';
import type { StackStatus } from '../../src/stack/stack';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';
import { normalisedTensors, sampleState } from '../helpers/checkpoint-fixtures';
import { startTestWorker } from '../helpers/training';

const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-tls-minio-'));
const quiet = () => undefined;
let options: DurableFitOptions;
let status: StackStatus;

/** The process environment without any S3 credential or endpoint: only the stack's files may supply them. */
function envWithoutS3(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of Object.keys(env)) if (/^(DFIT_S3_|AWS_)/.test(name)) delete env[name];
  return env;
}

before(async () => {
  const [tPort, uiPort, s3Port, consolePort] = (await freePorts(4)) as [number, number, number, number];
  options = resolveOptions(
    {
      ...envWithoutS3(),
      DFIT_STATE_DIR: stateDir,
      TEMPORAL_ADDRESS: `127.0.0.1:${tPort}`,
      DFIT_TEMPORAL_UI_PORT: String(uiPort),
      DFIT_S3_CONSOLE_PORT: String(consolePort),
    },
    { s3Endpoint: `http://127.0.0.1:${s3Port}` },
  );
  status = await stackUp(options, quiet, { tls: true });
});

after(async () => {
  if (options) await stackDown(options, quiet);
  fs.rmSync(stateDir, { recursive: true, force: true });
});

test('stack up --tls serves MinIO over https and reports the CA and the users', () => {
  assert.equal(status.running, true);
  assert.equal(status.tls, true);
  assert.match(status.s3Endpoint, /^https:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(status.s3CaFile, path.join(stateDir, 'tls', 'ca.crt'));
  const worker = JSON.parse(fs.readFileSync(status.credentials.worker, 'utf8')) as Record<string, string>;
  assert.equal(worker.endpoint, status.s3Endpoint);
  assert.equal(worker.caFile, status.s3CaFile);
  assert.notEqual(worker.accessKey, options.s3RootUser, 'workers do not get the root user');
});

test('keys and credentials are 0600, their folders 0700', () => {
  const mode = (file: string) => (fs.statSync(file).mode & 0o777).toString(8);
  for (const file of [
    path.join(stateDir, 'tls', 'ca.key'),
    path.join(stateDir, 'tls', 'minio-certs', 'private.key'),
    status.credentials.worker,
    status.credentials.reader,
  ])
    assert.equal(mode(file), '600', file);
  for (const dir of [stateDir, path.join(stateDir, 'tls'), path.join(stateDir, 'credentials')])
    assert.equal(mode(dir), '700', dir);
});

test('a checkpoint saves and loads over TLS with the CA trusted', async () => {
  const connection = s3Connection(options);
  assert.equal(connection.endpoint, status.s3Endpoint, 'the https endpoint comes from the stack file');
  assert.ok(connection.ca?.includes('BEGIN CERTIFICATE'), 'the CA comes from the stack file');
  const store = createStore(options);
  const saved = await store.save('tls-run', sampleState());
  const loaded = await store.load(saved.url, { sha256: saved.sha256 });
  assert.deepEqual(loaded.meta.cursor, sampleState().meta.cursor);
  assert.deepEqual(normalisedTensors(loaded.tensors), normalisedTensors(sampleState().tensors));
});

test('without the CA the same store is refused: the certificate is not trusted', async () => {
  const { ca, ...untrusted } = s3Connection(options);
  assert.ok(ca);
  const objects = createMinioObjectClient(untrusted);
  await assert.rejects(objects.put('tls-run/untrusted.txt', Buffer.from('x')), (err: Error) => {
    assert.match(`${err.message} ${(err as { code?: string }).code}`, /self.signed|unable to verify|CERT/i);
    return true;
  });
  const plain = createMinioObjectClient({
    ...untrusted,
    endpoint: untrusted.endpoint.replace('https', 'http'),
  });
  await assert.rejects(plain.stat('tls-run/any.txt'), 'plain HTTP gets no S3 answer from a TLS-only MinIO');
});

/** The bytes of every payload in a history, as text, outside search attributes (clear by design). */
function payloadText(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('utf8');
  if (!value || typeof value !== 'object') return '';
  return Object.entries(value)
    .filter(([key]) => key !== 'searchAttributes' && key !== 'indexedFields')
    .map(([, v]) => payloadText(v))
    .join('\n');
}

/** Trains a small synthetic run on the TLS stack with a worker of its own; `extra` turns features on. */
async function trainOnTlsStack(name: string, extra: Partial<DurableFitOptions> = {}) {
  const env = { ...envWithoutS3(), DFIT_STATE_DIR: stateDir, TEMPORAL_ADDRESS: options.temporalAddress };
  const taskQueue = `tls-${name}-${process.pid}`;
  const workerOptions: DurableFitOptions = { ...options, taskQueue, backend: 'cpu', ...extra };
  const worker = await startTestWorker(workerOptions, {}, env);
  const client = await connectClient(workerOptions, env);
  try {
    const spec = { task: 'synthetic', epochs: 2, seed: 9, batchSize: 16, hparams: { samples: 64 } };
    const handle = await startTraining(client, spec, { workflowId: `tls-${name}-${Date.now()}`, taskQueue });
    const result = await handle.result();
    const { events } = await handle.fetchHistory();
    return { result, history: payloadText(events) };
  } finally {
    await client.connection.close();
    await worker.stop();
  }
}

test(
  'a worker with no S3 setting trains a run on the TLS stack as its own MinIO user',
  { timeout: 120_000 },
  async () => {
    const { result } = await trainOnTlsStack('plain');
    assert.equal(result.epochs.length, 2);
    const reader = createStore(options, options.bucket, 'reader');
    const loaded = await reader.load(result.finalCheckpoint.url);
    assert.equal(loaded.meta.weightsSha256, result.weightsSha256, 'the checkpoint is on the TLS MinIO');
  },
);

test(
  'TLS, payload encryption and checkpoint signing all on: the same weights as with none of them',
  { timeout: 180_000 },
  async () => {
    const keys = {
      encryptionKeys: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
      ckptSigningKey: `sig-1:${'s'.repeat(40)}`,
    };
    const plain = await trainOnTlsStack('baseline');
    const secured = await trainOnTlsStack('secured', keys);
    assert.equal(secured.result.weightsSha256, plain.result.weightsSha256);
    assert.ok(plain.history.includes('synthetic'), 'without keys the spec is readable in history');
    assert.ok(!secured.history.includes('synthetic'), 'with keys the history holds only ciphertext');
    const verifying = createStore({ ...options, ...keys }, options.bucket, 'reader');
    const loaded = await verifying.load(secured.result.finalCheckpoint.url);
    assert.equal(loaded.meta.weightsSha256, plain.result.weightsSha256, 'signed, verified, same weights');
    await assert.rejects(
      createStore({ ...options, ...keys }, options.bucket, 'reader').load(plain.result.finalCheckpoint.url),
      /unsigned|signature/i,
      'a keyed reader refuses the unsigned checkpoint of the plain run',
    );
  },
);
