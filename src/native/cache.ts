/**
 * Where a native build lives: `<cacheRoot>/<tfjs>-tf<tf>-<flavor>/`, laid out like the tfjs-node
 * package expects (`deps/include`, `deps/lib`, `lib/napi-v8/tfjs_binding.node`) plus `site/`, the
 * wheels' own folder layout (`site/tensorflow/*.so.2`, `site/nvidia/*` for CUDA). `deps/lib` is a
 * link to `site/tensorflow`, so libtensorflow's `$ORIGIN`-relative runpaths still find CUDA.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NativeBuildSpec } from './pins';

/** Node-API version the addon is built for (Node ≥ 20 supports 9; tfjs-node looks up to 8). */
export const NAPI_VERSION = 8;

/** What a finished build records next to its files. */
export interface NativeManifest {
  flavor: NativeBuildSpec['flavor'];
  package: string;
  tfjsVersion: string;
  tfVersion: string;
  /** Every wheel used, with the SHA-256 it had. */
  wheels: { file: string; sha256: string }[];
  napiVersion: number;
  builtAt: string;
  buildSeconds: number;
}

/** The cache root next to the tools cache: `~/.cache/durable-fit/tfjs-node`. */
export function nativeCacheRoot(toolsDir: string): string {
  return path.join(path.dirname(toolsDir), 'tfjs-node');
}

/**
 * Creates the cache root owner-only (0700, missing parents too): workers load the addon and
 * libtensorflow from it, so no other local user may replace them. An existing root keeps its mode
 * (an operator may share one on purpose).
 */
export function createCacheRoot(cacheRoot: string): string {
  fs.mkdirSync(cacheRoot, { recursive: true, mode: 0o700 });
  return cacheRoot;
}

/** The folder of one pinned build. */
export function buildDir(cacheRoot: string, spec: NativeBuildSpec): string {
  return path.join(cacheRoot, `${spec.tfjsVersion}-tf${spec.tfVersion}-${spec.flavor}`);
}

/** The addon inside a build folder (or inside the linked package). */
export function addonPath(dir: string): string {
  return path.join(dir, 'lib', `napi-v${NAPI_VERSION}`, 'tfjs_binding.node');
}

/** The manifest of a finished build, or undefined when the build is absent or incomplete. */
export function readManifest(dir: string): NativeManifest | undefined {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as NativeManifest;
    return fs.existsSync(addonPath(dir)) ? manifest : undefined;
  } catch {
    return undefined;
  }
}

export function writeManifest(dir: string, manifest: NativeManifest): void {
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The installed tfjs-node(-gpu) package folder in node_modules, or undefined when npm dropped it. */
export function installedPackageDir(pkg: string, from: string = process.cwd()): string | undefined {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`, { paths: [from, __dirname] }));
  } catch {
    return undefined;
  }
}
