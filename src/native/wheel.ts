/**
 * Fetching and unpacking the pinned wheels: `pip download` (any Python works: the libraries don't
 * link libpython), a SHA-256 check against the pin, then only the members the addon needs.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { WheelHashMismatchError } from './errors';
import type { WheelPin } from './pins';
import { PIP_TARGET } from './pins';
import type { StepRunner } from './run-step';

/** Downloads one wheel (no dependencies) into `dir` and returns its path, hash-checked. */
export async function downloadWheel(
  pin: WheelPin,
  dir: string,
  python: string,
  run: StepRunner,
): Promise<string> {
  fs.mkdirSync(dir, { recursive: true });
  const before = new Set(fs.readdirSync(dir));
  await run(`download ${pin.requirement}`, python, [
    '-m',
    'pip',
    '--disable-pip-version-check',
    'download',
    '--no-deps',
    '--only-binary=:all:',
    '--python-version',
    PIP_TARGET.pythonVersion,
    ...PIP_TARGET.platforms.flatMap((p) => ['--platform', p]),
    '-d',
    dir,
    pin.requirement.replace(/\[.*\]/, ''),
  ]);
  const name = pin.requirement
    .replace(/\[.*\]/, '')
    .split('==')[0]!
    .replace(/-/g, '_')
    .toLowerCase();
  const file = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.whl') && f.toLowerCase().startsWith(`${name}-`))
    .sort((a, b) => Number(before.has(a)) - Number(before.has(b)))[0];
  if (!file) throw new Error(`pip reported success but no ${name} wheel is in ${dir}`);
  const wheel = path.join(dir, file);
  const actual = await sha256File(wheel);
  if (pin.sha256 && actual !== pin.sha256) throw new WheelHashMismatchError(file, pin.sha256, actual);
  return wheel;
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of fs.createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/**
 * Extracts the members matching `globs` (fnmatch, `*` spans folders) into `dest`, stripping
 * `strip` from their names. Python's zipfile, since pip already needs Python and `unzip` may be absent.
 */
export async function extractMembers(
  wheel: string,
  globs: readonly string[],
  dest: string,
  strip: string,
  python: string,
  run: StepRunner,
): Promise<void> {
  const script = [
    'import fnmatch, json, os, shutil, sys, zipfile',
    'wheel, dest, strip, globs = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])',
    'n = 0',
    'with zipfile.ZipFile(wheel) as z:',
    '  for m in z.infolist():',
    '    if m.is_dir() or not any(fnmatch.fnmatch(m.filename, g) for g in globs): continue',
    '    out = os.path.join(dest, m.filename[len(strip):] if m.filename.startswith(strip) else m.filename)',
    '    os.makedirs(os.path.dirname(out), exist_ok=True)',
    '    with z.open(m) as src, open(out, "wb") as dst: shutil.copyfileobj(src, dst, 1 << 22)',
    '    n += 1',
    'print(f"extracted {n} files from {os.path.basename(wheel)}")',
    'sys.exit(0 if n else 3)',
  ].join('\n');
  await run(`extract ${path.basename(wheel)}`, python, [
    '-c',
    script,
    wheel,
    dest,
    strip,
    JSON.stringify(globs),
  ]);
}

/** The `Requires-Dist` names of a wheel's extra (e.g. `and-cuda`), pinned as the wheel pins them. */
export async function extraRequirements(
  wheel: string,
  extra: string,
  python: string,
  run: StepRunner,
): Promise<string[]> {
  const script = [
    'import re, sys, zipfile',
    'z = zipfile.ZipFile(sys.argv[1])',
    'meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))',
    'for line in z.read(meta).decode().splitlines():',
    '  if line.startswith("Requires-Dist:") and f\'extra == "{sys.argv[2]}"\' in line:',
    '    print(re.sub(r"\\s*;.*$", "", line[len("Requires-Dist:"):]).replace(" ", ""))',
  ].join('\n');
  const out = await run(`read ${extra} requirements`, python, ['-c', script, wheel, extra]);
  return out.split('\n').filter((l) => l.trim() !== '');
}
