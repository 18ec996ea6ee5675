/** Lays out a build folder from extracted wheels: `site/` as in the wheels, `deps/` as tfjs-node wants. */
import fs from 'node:fs';
import path from 'node:path';
import { LIBRARIES } from './pins';

/** Adds the library names the addon links and tfjs-node's scripts look for, beside the real files. */
export function addLibraryAliases(libDir: string): void {
  for (const [alias, target] of Object.entries(LIBRARIES.aliases)) {
    const link = path.join(libDir, alias);
    fs.rmSync(link, { force: true });
    fs.symlinkSync(target, link);
  }
}

/**
 * `deps/lib` → `../site/tensorflow` (a folder link, so `$ORIGIN/../nvidia/...` runpaths inside
 * libtensorflow resolve against the wheel layout) and `deps/include` filled by the caller.
 */
export function linkDepsLib(buildRoot: string): void {
  const deps = path.join(buildRoot, 'deps');
  fs.mkdirSync(deps, { recursive: true });
  fs.rmSync(path.join(deps, 'lib'), { force: true, recursive: true });
  fs.symlinkSync(path.join('..', 'site', 'tensorflow'), path.join(deps, 'lib'));
}

/** Whether both libraries were extracted. */
export function hasLibraries(buildRoot: string): boolean {
  const dir = path.join(buildRoot, 'site', 'tensorflow');
  return [LIBRARIES.cc, LIBRARIES.framework].every((f) => fs.existsSync(path.join(dir, f)));
}
