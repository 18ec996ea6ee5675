/** `durable-fit backend status`: per flavor, whether its package is installed, built, linked and loads. */
import { spawnSync } from 'node:child_process';
import type { NativeManifest } from './cache';
import { buildDir, installedPackageDir, readManifest } from './cache';
import { isGraphAddonCurrent } from './graph-build';
import { isLinkedTo } from './link';
import type { NativeFlavor } from './pins';
import { buildSpec } from './pins';
import { findProject, installAdvice, npmVersion } from './project';

export interface NativeFlavorStatus {
  flavor: NativeFlavor;
  package: string;
  /** The package's JS is in node_modules. */
  installed: boolean;
  /** When it is not installed: what to do, for this project (this repository or a user's own). */
  install?: string;
  /** The cache folder of the pinned build. */
  dir: string;
  /** Present when the pinned build is in the cache. */
  manifest?: NativeManifest;
  /** node_modules points at that build. */
  linked: boolean;
  /** The graph addon (graph-mode steps) is built from the current sources. */
  graphAddon: boolean;
  /** Loading the package in a fresh Node process worked; `tfVersion` is what libtensorflow reports. */
  loads: boolean;
  tfVersion?: string;
  /** First line of the load error, when it did not load. */
  loadError?: string;
}

export function nativeStatus(
  cacheRoot: string,
  projectDir?: string,
  env: NodeJS.ProcessEnv = process.env,
): NativeFlavorStatus[] {
  let npm: { version?: string } | undefined; // asked once, and only when a package is missing
  const advise = (pkg: string) => {
    npm ??= { version: npmVersion(env) };
    return installAdvice(pkg, findProject(projectDir), npm.version).short;
  };
  return (['cpu', 'gpu'] as const).map((flavor) => {
    const spec = buildSpec(flavor);
    const dir = buildDir(cacheRoot, spec);
    const packageDir = installedPackageDir(spec.package, projectDir);
    const manifest = readManifest(dir);
    const linked = packageDir !== undefined && manifest !== undefined && isLinkedTo(packageDir, dir);
    const probe = linked ? probeLoad(spec.package, projectDir) : { loads: false };
    return {
      flavor,
      package: spec.package,
      installed: packageDir !== undefined,
      ...(packageDir === undefined ? { install: advise(spec.package) } : {}),
      dir,
      manifest,
      linked,
      graphAddon: manifest !== undefined && isGraphAddonCurrent(dir),
      ...probe,
    };
  });
}

/** Loads the package in a child (a failing native load can abort the process) and asks TF its version. */
export function probeLoad(
  pkg: string,
  cwd?: string,
): { loads: boolean; tfVersion?: string; loadError?: string } {
  const script =
    `const tf = require(${JSON.stringify(pkg)});` +
    'process.stdout.write(String(tf.backend().binding.TF_Version));';
  const out = spawnSync(process.execPath, ['-e', script], { cwd, encoding: 'utf8', timeout: 60_000 });
  if (out.status === 0) return { loads: true, tfVersion: out.stdout.trim() };
  const firstLine = (out.stderr || String(out.error ?? 'unknown')).split('\n').find((l) => /Error/.test(l));
  return { loads: false, loadError: firstLine?.trim() ?? `exit ${out.status}` };
}
