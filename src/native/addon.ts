/**
 * Compiles tfjs-node's addon against the wheel's libtensorflow with node-gyp. node-gyp normally
 * downloads Node's headers; `--nodedir` points it at the installed ones, so nothing is fetched.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NativeToolMissingError } from './errors';
import { NAPI_VERSION } from './cache';
import type { StepRunner } from './run-step';

/** The Node installation prefix whose `include/node/node_api.h` exists (`/usr` for distro Node). */
export function findNodeDir(): string {
  const candidates = [path.dirname(path.dirname(process.execPath)), '/usr', '/usr/local'];
  const found = candidates.find((dir) => fs.existsSync(path.join(dir, 'include', 'node', 'node_api.h')));
  if (!found)
    throw new NativeToolMissingError(
      "Node.js's C headers (include/node/node_api.h)",
      `None of ${candidates.join(', ')} has them. Install them (Debian/Ubuntu: \`apt-get install libnode-dev\`, ` +
        'or use the official Node.js tarball, which ships include/node).',
    );
  return found;
}

/** node-gyp's CLI: the copy bundled with npm, else one on PATH. */
export function findNodeGyp(): string[] {
  const npmDir = path.join(path.dirname(path.dirname(process.execPath)), 'lib', 'node_modules', 'npm');
  for (const base of [npmDir, '/usr/lib/node_modules/npm', '/usr/local/lib/node_modules/npm']) {
    const cli = path.join(base, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
    if (fs.existsSync(cli)) return [process.execPath, cli];
  }
  if (spawnSync('node-gyp', ['--version'], { stdio: 'ignore' }).status === 0) return ['node-gyp'];
  throw new NativeToolMissingError('node-gyp', 'Install it with `npm install -g node-gyp`.');
}

/** Fails early, with what to install, when the C++ toolchain is missing. */
export function checkCompiler(): void {
  for (const [tool, hint] of [
    ['g++', 'Install a C++ compiler (Debian/Ubuntu: `apt-get install g++ make`).'],
    ['make', 'Install make (Debian/Ubuntu: `apt-get install make`).'],
  ] as const) {
    if (spawnSync(tool, ['--version'], { stdio: 'ignore' }).status !== 0)
      throw new NativeToolMissingError(tool, hint);
  }
}

/**
 * Builds `tfjs_binding.node` from the package's sources in `workDir` (binding/, binding.gyp and a
 * `deps` folder with include/ and lib/), and returns the built file.
 */
export async function compileAddon(workDir: string, run: StepRunner): Promise<string> {
  const [command, ...prefix] = findNodeGyp();
  const args = [
    ...prefix,
    'rebuild',
    `--nodedir=${findNodeDir()}`,
    `--napi_build_version=${NAPI_VERSION}`,
    '--module_name=tfjs_binding',
    `--module_path=lib/napi-v${NAPI_VERSION}`,
    `--jobs=2`,
  ];
  await run('compile the tfjs-node addon', command!, args, { cwd: workDir });
  return path.join(workDir, 'build', 'Release', 'tfjs_binding.node');
}

/** Copies what node-gyp needs from the installed package into `workDir`. */
export function stageSources(packageDir: string, workDir: string): void {
  fs.mkdirSync(workDir, { recursive: true });
  for (const entry of ['binding', 'binding.gyp', 'package.json'])
    fs.cpSync(path.join(packageDir, entry), path.join(workDir, entry), { recursive: true });
}
