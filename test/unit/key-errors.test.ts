// Errors about keys and credentials never print key material (issue 22 item 5): malformed
// encryption keys, signing keys and S3 credential files, each holding a recognisable secret, fail
// with a message that holds no 4-character piece of it and says what to do. And the encryption key
// form `.env.example` documents is the form the parser takes.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { signingFromOptions } from '../../src/checkpoint/signing-keys';
import { readCredentialsFile } from '../../src/config/s3-credentials';
import { EncryptionKeyError, loadEncryptionKeys } from '../../src/security/keys';

// Fixed random values (openssl rand): none shares a 4-character piece with the messages' own text.
const KEY_B64 = 'Dt4InlIx1d9FIbw7JxefX+0g8BA0Zicdm/YWjYuGKEQ='; // 32 bytes
const SHORT_B64 = 'kq2k++R9gnq+Ou+OEI3chabK7fhr/1F7hLkPM9NjEg=='; // 31 bytes
const SECRET_HEX = '1eca0e255c1b8039e01ae54568b9c342d8203a90f26a324f300241b0c5ac1985';
const OTHER_HEX = 'a11a2d4f3e8ac85c61f1120b031e5c2a89314cc10523db326646f2e327da3fe2';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-key-errors-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));
let files = 0;
function file(text: string): string {
  const name = path.join(dir, `f${files++}`);
  fs.writeFileSync(name, text);
  return name;
}

/** The message of what `fn` throws. */
function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail('expected an error');
}

/** Neither `secret` nor any 4-character piece of it (with or without base64 padding) is in `message`. */
function assertNoPieceOf(message: string, secret: string): void {
  const bare = secret.replace(/=+$/, '');
  for (let i = 0; i + 4 <= bare.length; i++) {
    const piece = bare.slice(i, i + 4);
    assert.ok(!message.includes(piece), `the message holds "${piece}" of the secret: ${message}`);
  }
}

describe('encryption keys', () => {
  const key = Buffer.from(KEY_B64, 'base64');

  test('the form .env.example documents is accepted', () => {
    const example = fs.readFileSync('.env.example', 'utf8');
    const documented = /echo "([A-Za-z0-9._-]+[:=])\$\(openssl rand -base64 32\)"/.exec(example);
    assert.ok(documented, '.env.example shows how to make an encryption key');
    const value = `${documented[1]}${KEY_B64}`;
    assert.deepEqual(loadEncryptionKeys({ inline: value }), [{ id: 'k1', key }], 'as DFIT_ENCRYPTION_KEYS');
    assert.deepEqual(loadEncryptionKeys({ file: file(`${value}\n`) }), [{ id: 'k1', key }], 'as a keys file');
  });

  test('both id:key and id=key, inline and in a file', () => {
    for (const sep of [':', '=']) {
      const line = `k1${sep}${KEY_B64}`;
      assert.deepEqual(loadEncryptionKeys({ inline: `${line}, k0${sep}${KEY_B64}` })?.[0], { id: 'k1', key });
      assert.deepEqual(loadEncryptionKeys({ file: file(`# current\n${line}\n`) }), [{ id: 'k1', key }]);
    }
  });

  const bad: {
    name: string;
    source: () => { file?: string; inline?: string };
    secret: string;
    says: RegExp;
  }[] = [
    {
      name: 'a key without an id (inline)',
      source: () => ({ inline: KEY_B64 }),
      secret: KEY_B64,
      says: /entry 1: .*write k1:<base64 key>/,
    },
    {
      name: 'a key without an id, no padding (inline)',
      source: () => ({ inline: KEY_B64.replace(/=$/, '') }),
      secret: KEY_B64,
      says: /entry 1 .*<id>:<base64 key>/,
    },
    {
      name: 'id and key swapped (inline)',
      source: () => ({ inline: `${KEY_B64}:k1` }),
      secret: KEY_B64,
      says: /entry 1: its key id must be .*write k1:<base64 key>/,
    },
    {
      name: 'a space for the separator (file)',
      source: () => ({ file: file(`# keys\nk1 ${KEY_B64.replace(/=$/, '')}\n`) }),
      secret: KEY_B64,
      says: /line 2 is not <id>=<base64 key> \(e\.g\. "k1=…"\); make one with `openssl rand -base64 32`/,
    },
    {
      name: 'a key of 31 bytes',
      source: () => ({ inline: `k1:${SHORT_B64}` }),
      secret: SHORT_B64,
      says: /"k1" is not 32 bytes of base64.*openssl rand -base64 32/,
    },
    {
      name: 'JSON with an unquoted key',
      source: () => ({ file: file(`{\n  "k1": ${KEY_B64}\n}`) }),
      secret: KEY_B64,
      says: /not valid JSON.*\[\{"id": "k2", "key": "<base64>"\}/,
    },
    {
      name: 'JSON cut short',
      source: () => ({ file: file(`[{"id": "k1", "key": "${KEY_B64}"}`) }),
      secret: KEY_B64,
      says: /not valid JSON/,
    },
    {
      name: 'JSON object with id and key swapped',
      source: () => ({ file: file(JSON.stringify({ [KEY_B64]: 'k1' })) }),
      secret: KEY_B64,
      says: /entry 1: its key id must be .*write "k1": "<base64 key>"/,
    },
  ];
  for (const c of bad) {
    test(`${c.name}: refused without a piece of the key, saying what to do`, () => {
      const message = messageOf(() => loadEncryptionKeys(c.source()));
      assert.throws(() => loadEncryptionKeys(c.source()), EncryptionKeyError);
      assertNoPieceOf(message, c.secret);
      assert.match(message, c.says);
    });
  }
});

describe('checkpoint signing keys', () => {
  test('DFIT_CKPT_SIGNING_KEY takes <keyId>:<secret> and <keyId>=<secret>', () => {
    for (const sep of [':', '=']) {
      const signing = signingFromOptions({ ckptSigningKey: `k1${sep}${SECRET_HEX}` });
      assert.deepEqual(signing?.signWith, { id: 'k1', secret: SECRET_HEX });
    }
    const colons = signingFromOptions({ ckptSigningKey: `k1:${SECRET_HEX}:=x` });
    assert.equal(colons?.signWith.secret, `${SECRET_HEX}:=x`, 'the secret may hold : and =');
  });

  const bad: {
    name: string;
    options: () => Parameters<typeof signingFromOptions>[0];
    secret: string;
    says: RegExp;
  }[] = [
    {
      name: 'a secret without an id',
      options: () => ({ ckptSigningKey: SECRET_HEX }),
      secret: SECRET_HEX,
      says: /<keyId>:<secret>.*openssl rand -hex 32/,
    },
    {
      name: 'a base64 secret without an id (its = is no separator)',
      options: () => ({ ckptSigningKey: KEY_B64 }),
      secret: KEY_B64,
      says: /DFIT_CKPT_SIGNING_KEY.*<keyId>:<secret>/,
    },
    {
      name: 'a keys file that is not JSON',
      options: () => ({ ckptSigningKeysFile: file(`{"sign": "k1", "keys": {"k1": ${OTHER_HEX}}}`) }),
      secret: OTHER_HEX,
      says: /not valid JSON.*\{"sign": "<keyId>", "keys"/,
    },
    {
      name: 'a keys file with id and secret swapped',
      options: () => ({
        ckptSigningKeysFile: file(JSON.stringify({ sign: 'k1', keys: { [SECRET_HEX]: 'k1' } })),
      }),
      secret: SECRET_HEX,
      says: /signing key #1: its secret has 2 characters, fewer than 32 \(make one with `openssl rand -hex 32`\)/,
    },
    {
      name: 'a keys file whose sign names no key, with a secret for an id',
      options: () => ({
        ckptSigningKeysFile: file(JSON.stringify({ sign: 'k2', keys: { [SECRET_HEX]: OTHER_HEX } })),
      }),
      secret: SECRET_HEX,
      says: /"k2" is not among the keys/,
    },
  ];
  for (const c of bad) {
    test(`${c.name}: refused without a piece of the secret, saying what to do`, () => {
      const message = messageOf(() => signingFromOptions(c.options()));
      assertNoPieceOf(message, c.secret);
      assertNoPieceOf(message, OTHER_HEX);
      assert.match(message, c.says);
    });
  }
});

describe('S3 credentials file', () => {
  test('malformed JSON: refused without a piece of the secret key, saying what to do', () => {
    const credentials = file(`{"accessKey": "dfit-worker", "secretKey": ${OTHER_HEX}}`);
    const message = messageOf(() => readCredentialsFile(credentials));
    assertNoPieceOf(message, OTHER_HEX);
    assert.match(message, /not valid JSON.*fix it, or rerun `durable-fit stack up`/);
  });
});
