/** Points an installed tfjs-node(-gpu) package at a cached build: `deps/` and `lib/` become links. */
import fs from 'node:fs';
import path from 'node:path';

/**
 * Replaces `<packageDir>/{deps,lib}` with links into `buildDir`. Links, not copies: the libraries
 * are 850 MB. Node resolves the addon's real path, so its `$ORIGIN` runpath lands in the cache.
 */
export function linkIntoPackage(packageDir: string, buildDir: string): void {
  for (const entry of ['deps', 'lib']) {
    const target = path.join(buildDir, entry);
    const link = path.join(packageDir, entry);
    if (isLinkTo(link, target)) continue;
    fs.rmSync(link, { recursive: true, force: true });
    fs.symlinkSync(target, link);
  }
}

/** Whether `packageDir` is linked to `buildDir`. */
export function isLinkedTo(packageDir: string, buildDir: string): boolean {
  return ['deps', 'lib'].every((e) => isLinkTo(path.join(packageDir, e), path.join(buildDir, e)));
}

function isLinkTo(link: string, target: string): boolean {
  try {
    return fs.lstatSync(link).isSymbolicLink() && fs.readlinkSync(link) === target;
  } catch {
    return false;
  }
}
