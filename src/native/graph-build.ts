/**
 * The graph addon (graph-addon/, used by the `tensorflow-graph` backends): compiled with node-gyp
 * against the same libtensorflow as tfjs-node's addon and placed beside it in the build folder
 * (`lib/napi-v8/dfit_graph.node`, reached through the package's `lib` link). A stamp of the
 * sources' SHA-256 sits next to it, so a changed source rebuilds (~10 s) and a cached one is kept.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NAPI_VERSION } from './cache';
import { findNodeDir, findNodeGyp } from './addon';
import type { StepRunner } from './run-step';

const ADDON_FILE = 'dfit_graph.node';

/** The addon sources, next to this file (`npm run build` copies them into `dist/` for the package). */
export function graphSourceDir(): string {
  const dir = path.join(__dirname, 'graph-addon');
  if (!fs.existsSync(path.join(dir, 'binding.gyp')))
    throw new Error(`the graph addon's sources are missing from ${dir}`);
  return dir;
}

/** Where the built addon lives in a native build folder. */
export function graphAddonPath(buildDir: string): string {
  return path.join(buildDir, 'lib', `napi-v${NAPI_VERSION}`, ADDON_FILE);
}

/** SHA-256 over the sources' names and contents. */
export function graphSourceStamp(sourceDir: string = graphSourceDir()): string {
  const hash = crypto.createHash('sha256');
  for (const file of fs.readdirSync(sourceDir).sort()) {
    hash.update(`${file}\0`);
    hash.update(fs.readFileSync(path.join(sourceDir, file)));
  }
  return hash.digest('hex');
}

/** Whether the build folder holds the addon built from the current sources. */
export function isGraphAddonCurrent(buildDir: string): boolean {
  try {
    return fs.readFileSync(`${graphAddonPath(buildDir)}.sha256`, 'utf8').trim() === graphSourceStamp();
  } catch {
    return false;
  }
}

/** Builds the graph addon into `buildDir` unless it is current; true when it was built. */
export async function ensureGraphAddon(
  buildDir: string,
  run: StepRunner,
  step: (line: string) => void,
): Promise<boolean> {
  if (isGraphAddonCurrent(buildDir)) return false;
  const sources = graphSourceDir();
  const staging = fs.mkdtempSync(path.join(buildDir, '.graph-'));
  try {
    step('compiling the graph addon (graph-mode training steps) with node-gyp');
    fs.cpSync(sources, staging, { recursive: true });
    fs.symlinkSync(path.join(buildDir, 'deps'), path.join(staging, 'deps'));
    const [command, ...prefix] = findNodeGyp();
    const args = [...prefix, 'rebuild', `--nodedir=${findNodeDir()}`, '--jobs=2'];
    await run('compile the graph addon', command as string, args, { cwd: staging });
    const target = graphAddonPath(buildDir);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.copyFileSync(path.join(staging, 'build', 'Release', ADDON_FILE), `${target}.tmp`);
    fs.renameSync(`${target}.tmp`, target);
    fs.writeFileSync(`${target}.sha256`, `${graphSourceStamp(sources)}\n`);
    return true;
  } finally {
    fs.rmSync(staging, { recursive: true, force: true });
  }
}
