// Payload encryption: the AES-GCM codec on its own (round trip, rotation, unknown key, tampering),
// then a real run on Temporal + MinIO with encryption on: the raw history holds only ciphertext,
// the client with the codec reads the result, and the weights match the run without encryption.
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { defaultPayloadConverter } from '@temporalio/common';
import { connectClient, startTraining } from '../../src/client';
import type { TrainingSpecInput } from '../../src/spec';
import type { DurableFitOptions } from '../../src/config/options';
import {
  AesGcmPayloadCodec,
  PayloadDecryptionError,
  UnknownEncryptionKeyError,
} from '../../src/security/codec';
import { startCodecServer } from '../../src/security/codec-server';
import type { EncryptionKey } from '../../src/security/keys';
import {
  EncryptionKeyError,
  loadEncryptionKeys,
  parseInlineKeys,
  parseKeysFile,
} from '../../src/security/keys';
import { testStack } from '../helpers/stack-env';
import { collectPayloads, decodedText, shownPayloads, withoutSearchAttributes } from './codec-history';
import { goldenWeightsSha256, startTestWorker, testClient, testEnv, testOptions } from '../helpers/training';

const run = promisify(execFile);
const newKey = (id: string): EncryptionKey => ({ id, key: crypto.randomBytes(32) });
const inline = (keys: EncryptionKey[]) => keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(',');
const json = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? []).toString();

test('round trip: encrypt, decrypt, and plain payloads pass through untouched', async () => {
  const codec = new AesGcmPayloadCodec([newKey('k1')]);
  const plain = json({ task: 'synthetic', seed: 7 });
  const [encrypted] = await codec.encode([plain]);
  assert.ok(encrypted);
  assert.equal(text(encrypted.metadata?.encoding), 'binary/encrypted');
  assert.equal(text(encrypted.metadata?.['encryption-key-id']), 'k1');
  assert.ok(!text(encrypted.data).includes('synthetic'), 'the data is ciphertext');
  const [decoded] = await codec.decode([encrypted]);
  assert.deepEqual(defaultPayloadConverter.fromPayload(decoded as Payload), { task: 'synthetic', seed: 7 });
  const [again] = await codec.encode([plain]);
  assert.notDeepEqual(again?.data, encrypted.data, 'a fresh IV per payload');
  assert.deepEqual(
    await codec.decode([plain]),
    [plain],
    'clear-text payloads (history from before) still read',
  );
});

test('rotation: with k2 added as current, old k1 payloads decode and new payloads use k2', async () => {
  const k1 = newKey('k1');
  const k2 = newKey('k2');
  const [old] = await new AesGcmPayloadCodec([k1]).encode([json('before rotation')]);
  const rotated = new AesGcmPayloadCodec(parseInlineKeys(inline([k2, k1]), 'test'));
  assert.equal(rotated.currentKeyId, 'k2');
  const [decoded] = await rotated.decode([old as Payload]);
  assert.equal(defaultPayloadConverter.fromPayload(decoded as Payload), 'before rotation');
  const [fresh] = await rotated.encode([json('after rotation')]);
  assert.equal(text(fresh?.metadata?.['encryption-key-id']), 'k2');
  await assert.rejects(new AesGcmPayloadCodec([k1]).decode([fresh as Payload]), UnknownEncryptionKeyError);
});

test('a payload under an unknown key id fails with the id and how to add the key', async () => {
  const [sealed] = await new AesGcmPayloadCodec([newKey('retired-2024')]).encode([json(1)]);
  const err = await new AesGcmPayloadCodec([newKey('k9')])
    .decode([sealed as Payload])
    .catch((e: unknown) => e);
  assert.ok(err instanceof UnknownEncryptionKeyError);
  assert.equal(err.keyId, 'retired-2024');
  assert.match(err.message, /"retired-2024"/);
  assert.match(err.message, /DFIT_ENCRYPTION_KEYS_FILE/);
});

test('tampered ciphertext, a swapped key id and a same-id wrong key are refused', async () => {
  const k1 = newKey('k1');
  const codec = new AesGcmPayloadCodec([k1, newKey('k2')]);
  const [sealed] = (await codec.encode([json({ lr: 0.01 })])) as [Payload];
  const flipped = Buffer.from(sealed.data as Uint8Array);
  flipped[20] = (flipped[20] ?? 0) ^ 1;
  await assert.rejects(codec.decode([{ ...sealed, data: flipped }]), PayloadDecryptionError);
  const truncated = Buffer.from(sealed.data as Uint8Array).subarray(0, 10);
  await assert.rejects(codec.decode([{ ...sealed, data: truncated }]), PayloadDecryptionError);
  const swapped = { ...sealed, metadata: { ...sealed.metadata, 'encryption-key-id': Buffer.from('k2') } };
  await assert.rejects(codec.decode([swapped]), PayloadDecryptionError);
  await assert.rejects(new AesGcmPayloadCodec([newKey('k1')]).decode([sealed]), /failed authentication/);
});

test('keys load from a JSON or id=base64 file and from the env form; bad keys say what to do', () => {
  const [a, b] = [newKey('a'), newKey('b')];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-keys-'));
  const lines = path.join(dir, 'keys');
  fs.writeFileSync(
    lines,
    `# current first\n${a.id}=${a.key.toString('base64')}\nb=${b.key.toString('base64')}\n`,
  );
  const file = path.join(dir, 'keys.json');
  fs.writeFileSync(file, JSON.stringify({ b: b.key.toString('base64'), a: a.key.toString('base64') }));
  assert.deepEqual(loadEncryptionKeys({ file: lines }), [a, b]);
  assert.deepEqual(loadEncryptionKeys({ file }), [b, a]);
  assert.deepEqual(loadEncryptionKeys({ inline: inline([a]) }), [a]);
  assert.equal(loadEncryptionKeys({}), undefined, 'no keys: encryption off');
  assert.throws(() => parseInlineKeys('k:c2hvcnQ=', 'env'), /32 bytes.*openssl rand -base64 32/);
  assert.throws(() => parseKeysFile(`a=${a.key.toString('base64')}\na=x`, 'f'), /appears twice/);
  assert.throws(() => loadEncryptionKeys({ file: path.join(dir, 'missing') }), EncryptionKeyError);
  fs.rmSync(dir, { recursive: true, force: true });
});

describeRealRun();

/** The run on real servers: one encrypting worker, a client with the codec, one without. */
function describeRealRun(): void {
  const taskQueue = `codec-${process.pid}`;
  const keys = [newKey('k2'), newKey('k1')];
  let options: DurableFitOptions;
  let secure: Client;
  let plain: Client;
  let closePlain: () => Promise<void>;
  let worker: Awaited<ReturnType<typeof startTestWorker>>;

  before(async () => {
    options = { ...testOptions(taskQueue), encryptionKeys: inline(keys) };
    worker = await startTestWorker(options);
    secure = await connectClient(options, testEnv());
    ({ client: plain, close: closePlain } = await testClient());
  });
  after(async () => {
    await worker?.stop();
    await secure?.connection.close();
    await closePlain?.();
  });

  test('a run with encryption on: ciphertext in history, the result decoded, the same weights', async () => {
    const spec: TrainingSpecInput = {
      task: 'synthetic',
      epochs: 2,
      seed: 5,
      batchSize: 16,
      hparams: { samples: 64 },
    };
    const workflowId = `codec-run-${Date.now()}`;
    const handle = await startTraining(secure, spec, { taskQueue, workflowId });
    const result = await handle.result();
    assert.equal(result.status, 'completed');
    assert.equal(result.weightsSha256, await goldenWeightsSha256(spec), 'same weights as without encryption');

    const history = await plain.workflow.getHandle(workflowId).fetchHistory();
    const payloads = collectPayloads(history);
    assert.ok(
      payloads.encrypted.length >= 6,
      `inputs, results, memo… were found (${payloads.encrypted.length})`,
    );
    assert.deepEqual(payloads.clear, [], 'no clear-text payload outside search attributes and headers');
    for (const p of payloads.encrypted) assert.equal(text(p.metadata?.['encryption-key-id']), 'k2');
    const raw = JSON.stringify(withoutSearchAttributes(history));
    for (const secret of ['synthetic', '"seed"', 's3://', result.weightsSha256])
      assert.ok(
        !raw.includes(secret) && !decodedText(history).includes(secret),
        `"${secret}" is not in the history`,
      );
    await assert.rejects(
      plain.workflow.getHandle(workflowId).result(),
      'a client without the codec cannot read it',
    );

    const withKeys = await cliStatus(workflowId, { DFIT_ENCRYPTION_KEYS: inline(keys) });
    assert.equal(withKeys.code, 0, withKeys.stderr);
    assert.ok(withKeys.stdout.includes(result.weightsSha256), 'durable-fit status reads it with the keys');
    const withoutKeys = await cliStatus(workflowId, {});
    assert.equal(withoutKeys.code, 1);
    assert.match(withoutKeys.stderr, /payloads are encrypted \(key "k2"\).*set DFIT_ENCRYPTION_KEYS_FILE/);

    const show = shownPayloads(await temporalShow(workflowId));
    assert.ok(!show.includes(result.weightsSha256), 'temporal workflow show: ciphertext only');
    const server = await startCodecServer({ codec: new AesGcmPayloadCodec(keys), port: 0, authToken: 'tok' });
    try {
      const decoded = shownPayloads(
        await temporalShow(workflowId, ['--codec-endpoint', server.url, '--codec-auth', 'Bearer tok']),
      );
      assert.ok(!decoded.includes('binary/encrypted'), 'every payload was decoded');
      assert.ok(decoded.includes(result.weightsSha256), 'temporal workflow show through the codec server');
      assert.ok(decoded.includes('synthetic'));
      await assert.rejects(temporalShow(workflowId, ['--codec-endpoint', server.url]), 'no token: refused');
    } finally {
      await server.close();
    }
  });

  test('failure messages are encrypted too (encodeCommonAttributes), and the codec client reads them', async () => {
    const workflowId = `codec-fail-${Date.now()}`;
    const err = await secure.workflow
      .execute<TrainModel>(TRAIN_MODEL, {
        taskQueue,
        workflowId,
        args: [{ task: 'no-such-task-7f3a', epochs: 1, seed: 1 }],
      })
      .catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    let cause: unknown = err;
    const messages: string[] = [];
    while (cause instanceof Error) {
      messages.push(cause.message);
      cause = cause.cause;
    }
    assert.ok(
      messages.some((m) => m.includes('no-such-task-7f3a')),
      messages.join(' | '),
    );
    const history = await plain.workflow.getHandle(workflowId).fetchHistory();
    const raw = JSON.stringify(history);
    assert.ok(raw.includes('Encoded failure'), 'failures carry the placeholder message');
    assert.ok(!raw.includes('no-such-task-7f3a') && !decodedText(history).includes('no-such-task-7f3a'));
  });

  async function cliStatus(workflowId: string, env: NodeJS.ProcessEnv) {
    const args = ['bin/durable-fit.cjs', 'status', workflowId, '--json'];
    const options = { env: { ...testEnv(), DFIT_ENCRYPTION_KEYS: '', ...env }, timeout: 120_000 };
    return run(process.execPath, args, options).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({
        code: err.code ?? 1,
        stdout: err.stdout ?? '',
        stderr: err.stderr ?? '',
      }),
    );
  }

  async function temporalShow(workflowId: string, extra: string[] = []): Promise<string> {
    const { temporalBin, temporalAddress, namespace } = testStack();
    const args = [
      'workflow',
      'show',
      '-w',
      workflowId,
      '--address',
      temporalAddress,
      '-n',
      namespace,
      '-o',
      'json',
    ];
    const { stdout } = await run(temporalBin, [...args, ...extra], { maxBuffer: 32 * 1024 * 1024 });
    return stdout;
  }
}
