/**
 * `npm test` builds the native TensorFlow backend when a selected test runs on it and the build is
 * missing (cached per version: a link when cached, under a minute cold), so the README's test
 * command needs no extra step on a fresh machine. Where it cannot be built, locally those tests are
 * skipped with the command to run; in CI (`CI` or `DFIT_REQUIRE_NATIVE=1`) the run stops here.
 */
import fs from 'node:fs';
import { resolveOptions } from '../src/config/options';
import { ensureNativeBuild, nativeCacheRoot } from '../src/native';
import { isNativeBuilt } from '../test/helpers/native';

/** True when one of `files` trains on native TensorFlow (it imports the native test helper). */
export function needsNative(files: readonly string[]): boolean {
  return files.some((file) => /helpers\/native['"]/.test(fs.readFileSync(file, 'utf8')));
}

/** Undefined when native is ready (or not needed); else the line to print and stop with. */
export async function ensureNativeForTests(files: readonly string[]): Promise<string | undefined> {
  if (!needsNative(files) || isNativeBuilt()) return undefined;
  try {
    console.error('npm test: building native TensorFlow for the tests that run on it (cached afterwards)');
    await ensureNativeBuild({
      cacheRoot: nativeCacheRoot(resolveOptions(process.env).toolsDir),
      progress: (line) => console.error(`  ${line}`),
    });
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    const required = Boolean(process.env.CI) || process.env.DFIT_REQUIRE_NATIVE === '1';
    const line = `npm test: native TensorFlow could not be built: ${why}`;
    if (required) return line;
    console.error(
      `${line}; its tests are skipped (build it with \`node bin/durable-fit.cjs backend build\`)`,
    );
    return undefined;
  }
}
