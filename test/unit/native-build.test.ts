/**
 * The native build's pieces without the network: the wheel's SHA-256 is checked against the pin,
 * a missing pip/python names what to install, a cached build is linked (not copied) into the
 * package, and oneDNN's ISA class is read from /proc/cpuinfo. Fakes stand in for pip.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { addonPath, readManifest, writeManifest } from '../../src/native/cache';
import type { NativeManifest } from '../../src/native/cache';
import { NativeToolMissingError, WheelHashMismatchError } from '../../src/native/errors';
import { isLinkedTo, linkIntoPackage } from '../../src/native/link';
import { createStepRunner } from '../../src/native/run-step';
import { downloadWheel, extraRequirements } from '../../src/native/wheel';
import { detectIsa } from '../../src/training/native-runtime';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-native-'));
const WHEEL = 'tensorflow_cpu-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl';

/** A stand-in for `python3 -m pip download … -d DIR`: writes a fixed "wheel" into DIR. */
function fakePython(dir: string, content: string): string {
  const script = path.join(dir, 'python3');
  fs.writeFileSync(
    script,
    `#!/bin/sh\nwhile [ "$1" != "-d" ]; do shift; done\nprintf '%s' '${content}' > "$2/${WHEEL}"\n`,
    { mode: 0o755 },
  );
  return script;
}

const runner = (dir: string) => createStepRunner(path.join(dir, 'build.log'), () => undefined);

test('a wheel whose SHA-256 differs from the pin is refused, naming both hashes', async () => {
  const dir = tmp();
  const python = fakePython(dir, 'not the real wheel');
  const pin = { requirement: 'tensorflow-cpu==2.21.0', sha256: 'ab'.repeat(32) };
  await assert.rejects(downloadWheel(pin, path.join(dir, 'w'), python, runner(dir)), (err: Error) => {
    assert.ok(err instanceof WheelHashMismatchError);
    assert.match(
      err.message,
      new RegExp(`SHA-256 [0-9a-f]{64}, but the pin in src/native/pins.ts is ${'ab'.repeat(32)}`),
    );
    return true;
  });
  const good = createHash('sha256').update('not the real wheel').digest('hex');
  const wheel = await downloadWheel({ ...pin, sha256: good }, path.join(dir, 'w2'), python, runner(dir));
  assert.equal(path.basename(wheel), WHEEL);
});

test('a missing Python/pip says what to install', async () => {
  const dir = tmp();
  const pin = { requirement: 'tensorflow-cpu==2.21.0', sha256: '00'.repeat(32) };
  await assert.rejects(downloadWheel(pin, dir, path.join(dir, 'no-python3'), runner(dir)), (err: Error) => {
    assert.ok(err instanceof NativeToolMissingError);
    assert.match(err.message, /Install `.*no-python3`.*durable-fit backend build/);
    return true;
  });
});

test('a cached build is linked into the package (deps/ and lib/), idempotently', () => {
  const cache = tmp();
  const pkg = tmp();
  fs.mkdirSync(path.dirname(addonPath(cache)), { recursive: true });
  fs.writeFileSync(addonPath(cache), 'addon');
  fs.mkdirSync(path.join(cache, 'deps'));
  const manifest = { flavor: 'cpu', tfVersion: '2.21.0' } as NativeManifest;
  assert.equal(readManifest(cache), undefined, 'no manifest: not a finished build');
  writeManifest(cache, manifest);
  assert.deepEqual(readManifest(cache), manifest);
  fs.mkdirSync(path.join(pkg, 'lib')); // e.g. left by tfjs-node's own install script
  linkIntoPackage(pkg, cache);
  linkIntoPackage(pkg, cache);
  assert.ok(isLinkedTo(pkg, cache));
  assert.equal(fs.readFileSync(addonPath(pkg), 'utf8'), 'addon');
  assert.ok(fs.lstatSync(path.join(pkg, 'deps')).isSymbolicLink());
});

test('the GPU build reads the CUDA wheels it needs from the tensorflow wheel (its and-cuda extra)', async () => {
  const dir = tmp();
  const wheel = path.join(dir, 'tensorflow-2.21.0-cp311-cp311-manylinux_2_27_x86_64.whl');
  const metadata = [
    'Name: tensorflow',
    'Requires-Dist: numpy>=1.26.0',
    'Requires-Dist: nvidia-cublas-cu12==12.5.3.2; extra == "and-cuda"',
    'Requires-Dist: nvidia-cudnn-cu12 == 9.3.0.75 ; extra == "and-cuda"',
    'Requires-Dist: tensorflow-io-gcs-filesystem; extra == "gcs"',
  ].join('\n');
  const make = `import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], "w") as z: z.writestr("tensorflow-2.21.0.dist-info/METADATA", sys.argv[2])`;
  await runner(dir)('make a wheel', 'python3', ['-c', make, wheel, metadata]);
  assert.deepEqual(await extraRequirements(wheel, 'and-cuda', 'python3', runner(dir)), [
    'nvidia-cublas-cu12==12.5.3.2',
    'nvidia-cudnn-cu12==9.3.0.75',
  ]);
});

test("oneDNN's ISA class comes from the CPU flags", () => {
  const flags = (f: string) => `processor : 0\nflags\t\t: ${f}\n`;
  assert.equal(detectIsa(flags('fma sse4_1 avx avx2')), 'avx2');
  assert.equal(detectIsa(flags('sse4_1 avx avx2 fma avx512f avx512bw avx512vl avx512dq')), 'avx512_core');
  assert.equal(
    detectIsa(flags('avx2 fma avx512f avx512bw avx512vl avx512dq avx512_bf16 amx_tile amx_bf16')),
    'avx512_core_amx',
  );
  assert.equal(detectIsa(''), 'unknown');
});
