// Signed checkpoints without a server: what the signature covers, what verification refuses (a
// forgery with every hash recomputed, an unsigned or v1 file, an unknown key), rotation, and how
// keys are read from the options.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { CheckpointSignatureError, CheckpointUnsignedError } from '../../src/checkpoint/errors';
import { decodeCheckpoint, encodeCheckpoint, readCheckpointHeader } from '../../src/checkpoint/format';
import { PAYLOAD_SHA256_KEY, PAYLOAD_SIGNATURE_KEY } from '../../src/checkpoint/payload-hash';
import { createSigning, signPayload, verifySignature } from '../../src/checkpoint/signing';
import { signingFromOptions } from '../../src/checkpoint/signing-keys';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { importCheckpointFile } from '../../src/checkpoint/import-file';
import { createS3IOHandler, encodeModelArtifacts } from '../../src/checkpoint/tfjs-io';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';
import { sampleState, editHeader } from '../helpers/checkpoint-fixtures';

const OLD = { id: 'k-2025', secret: 'o'.repeat(40) };
const NEW = { id: 'k-2026', secret: 'n'.repeat(40) };
const URL1 = 's3://bkt/run/epoch=0001-step=0000030.ckpt';

/** What an attacker without the key can do: other weights, a correct payload hash, the old signature. */
function forge(signed: Buffer): Buffer {
  const state = decodeCheckpoint(signed);
  const kernel = state.tensors.find((t) => t.name === 'model/dense_1/kernel');
  assert.ok(kernel);
  const data = Uint8Array.from(kernel.data);
  data[0] = (data[0] ?? 0) ^ 0x40;
  const evil = { ...state, tensors: state.tensors.map((t) => (t === kernel ? { ...t, data } : t)) };
  const signature = readCheckpointHeader(signed).metadata[PAYLOAD_SIGNATURE_KEY];
  return editHeader(encodeCheckpoint(evil), (m) => {
    if (signature) m[PAYLOAD_SIGNATURE_KEY] = signature;
  });
}

function storeWith(keys = [NEW], signWith = NEW.id, acceptUnsigned = false) {
  const objects = createMemoryObjectClient('bkt');
  const signing = createSigning(keys, signWith, acceptUnsigned);
  return { objects, signing, store: new ObjectCheckpointIO(objects, { signing }) };
}

describe('checkpoint signatures', () => {
  test('a keyed save is signed in its header, loads, and still decodes by its payload hash without a key', async () => {
    const { objects, store } = storeWith();
    const saved = await store.save('run', sampleState());
    const body = objects.objects.get(saved.key)?.body;
    assert.ok(body);
    const meta = readCheckpointHeader(body).metadata;
    assert.match(meta[PAYLOAD_SIGNATURE_KEY] ?? '', /^hmac-sha256:k-2026:[0-9a-f]{64}$/);
    // The signature sits outside the payload hash: the hash is the unsigned encoding's.
    const unsigned = readCheckpointHeader(encodeCheckpoint(sampleState())).metadata[PAYLOAD_SHA256_KEY];
    assert.equal(meta[PAYLOAD_SHA256_KEY], unsigned);
    assert.deepEqual((await store.load(saved.url)).meta.cursor, sampleState().meta.cursor);
    assert.deepEqual(decodeCheckpoint(body).meta.cursor, sampleState().meta.cursor);
    assert.deepEqual(
      (await new ObjectCheckpointIO(objects).load(saved.url)).meta.cursor,
      sampleState().meta.cursor,
    );
  });

  test('a forgery with a correct payload hash and correct object metadata is refused', async () => {
    const { objects, store } = storeWith();
    const saved = await store.save('run', sampleState());
    const forged = forge(objects.objects.get(saved.key)?.body ?? Buffer.alloc(0));
    assert.doesNotThrow(() => decodeCheckpoint(forged)); // every hash in it is right
    const { createHash } = await import('node:crypto');
    objects.objects.set(saved.key, {
      body: forged,
      lastModified: new Date(),
      metadata: { sha256: createHash('sha256').update(forged).digest('hex') },
    });
    await assert.rejects(store.load(saved.url), (err: unknown) => {
      assert.ok(err instanceof CheckpointSignatureError, String(err));
      assert.equal(err.url, saved.url);
      assert.match(err.message, /signature does not match key "k-2026"/);
      return true;
    });
    // The record's own hash cannot help: the attacker's file is what the store now reports.
    await assert.rejects(store.loadBytes(saved.url), CheckpointSignatureError);
  });

  test('an unsigned file is refused with the way out; accepted without a key or when accepted deliberately', async () => {
    const { objects, store } = storeWith();
    await objects.put('run/epoch=0001-step=0000030.ckpt', encodeCheckpoint(sampleState()));
    await assert.rejects(store.load(URL1), (err: unknown) => {
      assert.ok(err instanceof CheckpointUnsignedError);
      assert.match(err.message, /ckpt import --sign/);
      assert.match(err.message, /DFIT_CKPT_ACCEPT_UNSIGNED=1/);
      return true;
    });
    await new ObjectCheckpointIO(objects).load(URL1);
    const lenient = new ObjectCheckpointIO(objects, { signing: createSigning([NEW], NEW.id, true) });
    await lenient.load(URL1);
    // Accepting unsigned files never accepts a bad signature.
    const forged = forge(await store.loadBytes((await store.save('run2', sampleState())).url));
    await objects.put('run3/epoch=0001-step=0000030.ckpt', forged);
    await assert.rejects(
      lenient.load('s3://bkt/run3/epoch=0001-step=0000030.ckpt'),
      CheckpointSignatureError,
    );
  });

  test('a v1 file (no payload hash to sign) is refused as unsigned, and says it cannot be signed', async () => {
    const { objects, store } = storeWith();
    const v1 = editHeader(encodeCheckpoint(sampleState()), (m) => {
      m.format_version = '1';
      delete m[PAYLOAD_SHA256_KEY];
    });
    const { createHash } = await import('node:crypto');
    await objects.put('run/epoch=0001-step=0000030.ckpt', v1, {
      metadata: { sha256: createHash('sha256').update(v1).digest('hex') },
    });
    await assert.rejects(store.load(URL1), (err: unknown) => {
      assert.ok(err instanceof CheckpointUnsignedError);
      assert.equal(err.signable, false);
      return true;
    });
  });

  test('rotation: a checkpoint signed with the old key loads while the old key is loaded, not after', async () => {
    const before = storeWith([OLD], OLD.id);
    const saved = await before.store.save('run', sampleState());
    const rotated = new ObjectCheckpointIO(before.objects, { signing: createSigning([OLD, NEW], NEW.id) });
    await rotated.load(saved.url);
    const next = await rotated.save(
      'run',
      sampleState({ cursor: { epoch: 2, batch: 0, step: 60, batchesPerEpoch: 30 } }),
    );
    assert.match(
      readCheckpointHeader(await rotated.loadBytes(next.url)).metadata[PAYLOAD_SIGNATURE_KEY] ?? '',
      /:k-2026:/,
    );
    const retired = new ObjectCheckpointIO(before.objects, { signing: createSigning([NEW], NEW.id) });
    await retired.load(next.url);
    await assert.rejects(
      retired.load(saved.url),
      /signed with key "k-2025", which is not among the loaded keys/,
    );
  });

  test('the signature names its key and algorithm: a changed key id or algorithm does not verify', () => {
    const sha = 'a'.repeat(64);
    const signing = createSigning([OLD, NEW], NEW.id);
    const good = signPayload(sha, NEW);
    verifySignature({ [PAYLOAD_SHA256_KEY]: sha, [PAYLOAD_SIGNATURE_KEY]: good }, signing);
    const relabelled = good.replace(':k-2026:', ':k-2025:');
    for (const bad of [
      relabelled,
      good.replace('hmac-sha256', 'ed25519'),
      'garbage',
      `${good.slice(0, -2)}00`,
    ]) {
      assert.throws(
        () => verifySignature({ [PAYLOAD_SHA256_KEY]: sha, [PAYLOAD_SIGNATURE_KEY]: bad }, signing),
        CheckpointSignatureError,
        bad,
      );
    }
    assert.throws(
      () => verifySignature({ [PAYLOAD_SHA256_KEY]: 'b'.repeat(64), [PAYLOAD_SIGNATURE_KEY]: good }, signing),
      CheckpointSignatureError,
    );
  });

  test('importFile: refuses unsigned and forged files when keyed; --sign signs a verified file, never a forgery', async () => {
    const { store, signing } = storeWith();
    const importFile = (...args: [string, Buffer, string, { sign?: boolean }?]) =>
      importCheckpointFile(store, signing, ...args);
    const plain = encodeCheckpoint(sampleState());
    await assert.rejects(importFile('in', plain, 'plain.ckpt'), CheckpointUnsignedError);
    const signed = await importFile('in', plain, 'plain.ckpt', { sign: true });
    const bytes = await store.loadBytes(signed.url);
    assert.match(readCheckpointHeader(bytes).metadata[PAYLOAD_SIGNATURE_KEY] ?? '', /^hmac-sha256:k-2026:/);
    await importFile('in-again', bytes, 'signed.ckpt'); // already validly signed: taken as it is
    const forged = forge(bytes);
    await assert.rejects(importFile('evil', forged, 'evil.ckpt'), CheckpointSignatureError);
    await assert.rejects(importFile('evil', forged, 'evil.ckpt', { sign: true }), CheckpointSignatureError);
    const flipped = Buffer.from(plain);
    flipped[flipped.length - 1] = (flipped.at(-1) ?? 0) ^ 1;
    await assert.rejects(importFile('junk', flipped, 'flip.ckpt', { sign: true }), /hash-mismatch/);
    await assert.rejects(
      importCheckpointFile(
        new ObjectCheckpointIO(createMemoryObjectClient('bkt')),
        undefined,
        'x',
        plain,
        'p',
        {
          sign: true,
        },
      ),
      /needs a signing key/,
    );
  });
});

describe('signed model checkpoints (tf.io handlers)', () => {
  test('model.save through a keyed store signs the file; a load verifies it and refuses a forgery', async () => {
    const { objects, store } = storeWith();
    const url = 's3://bkt/models/epoch=0000-step=0000000.ckpt';
    const artifacts = {
      modelTopology: { class_name: 'Sequential' },
      weightSpecs: [{ name: 'dense/kernel', shape: [2], dtype: 'float32' as const }],
      weightData: new Float32Array([1.5, -2]).buffer,
    };
    await createS3IOHandler(store, url).save!(artifacts);
    const body = objects.objects.get('models/epoch=0000-step=0000000.ckpt')?.body ?? Buffer.alloc(0);
    assert.match(readCheckpointHeader(body).metadata[PAYLOAD_SIGNATURE_KEY] ?? '', /^hmac-sha256:k-2026:/);
    const loaded = await createS3IOHandler(store, url).load!();
    assert.deepEqual([...new Float32Array(loaded.weightData as ArrayBuffer)], [1.5, -2]);
    // A forgery: other weights, encoded by our own encoder (correct payload hash), the old signature.
    const evil = encodeModelArtifacts({ ...artifacts, weightData: new Float32Array([9, 9]).buffer });
    const signature = readCheckpointHeader(body).metadata[PAYLOAD_SIGNATURE_KEY] ?? '';
    objects.objects.set('models/epoch=0000-step=0000000.ckpt', {
      body: editHeader(Buffer.concat(evil.parts), (m) => (m[PAYLOAD_SIGNATURE_KEY] = signature)),
      lastModified: new Date(),
      metadata: {},
    });
    await assert.rejects(createS3IOHandler(store, url).load!(), CheckpointSignatureError);
    await new ObjectCheckpointIO(objects).loadBytes(url); // the threat: without a key it loads
  });
});

describe('signing keys from options', () => {
  test('no key: no signing; an inline key; a keys file with rotation', () => {
    assert.equal(signingFromOptions({}), undefined);
    const inline = signingFromOptions({ ckptSigningKey: `fleet-1:${'s'.repeat(32)}:with-colon` });
    assert.equal(inline?.signWith.id, 'fleet-1');
    assert.equal(inline?.signWith.secret, `${'s'.repeat(32)}:with-colon`);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signing-keys-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(
      file,
      JSON.stringify({ sign: NEW.id, keys: { [OLD.id]: OLD.secret, [NEW.id]: NEW.secret } }),
    );
    const rotated = signingFromOptions({ ckptSigningKeysFile: file, ckptAcceptUnsigned: true });
    assert.equal(rotated?.signWith.id, NEW.id);
    assert.deepEqual([...(rotated?.keys.keys() ?? [])].sort(), [OLD.id, NEW.id]);
    assert.equal(rotated?.acceptUnsigned, true);
  });

  test('bad keys are refused with what to do', () => {
    assert.throws(() => signingFromOptions({ ckptSigningKey: 'no-separator' }), /<keyId>:<secret>/);
    assert.throws(() => signingFromOptions({ ckptSigningKey: 'k:short' }), /openssl rand -hex 32/);
    assert.throws(
      () => signingFromOptions({ ckptSigningKey: `k:${'s'.repeat(32)}`, ckptSigningKeysFile: '/x' }),
      /use one/,
    );
    const dir = mkdtempSync(path.join(os.tmpdir(), 'signing-keys-'));
    const file = path.join(dir, 'keys.json');
    writeFileSync(file, JSON.stringify({ sign: 'missing', keys: { [OLD.id]: OLD.secret } }));
    assert.throws(() => signingFromOptions({ ckptSigningKeysFile: file }), /"missing" is not among the keys/);
    assert.throws(
      () => signingFromOptions({ ckptSigningKeysFile: path.join(dir, 'nope.json') }),
      /cannot read/,
    );
  });
});
