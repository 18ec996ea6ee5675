/**
 * Whether the native TensorFlow backend is built here, for tests that run on it. Locally a missing
 * build skips those tests with the command to run; in CI (`DFIT_REQUIRE_NATIVE=1`, set by .ci/run, or
 * `CI` set) it does not skip, so the test fails loudly with BackendUnavailableError naming
 * `durable-fit backend build`.
 */
import fs from 'node:fs';
import path from 'node:path';

export function isNativeBuilt(pkg = '@tensorflow/tfjs-node'): boolean {
  try {
    const dir = path.dirname(require.resolve(`${pkg}/package.json`));
    return fs.existsSync(path.join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'));
  } catch {
    return false;
  }
}

/** A `skip` value for node:test: a reason locally when the build is missing, never in CI. */
export function skipUnlessNative(): string | false {
  if (isNativeBuilt() || process.env.CI || process.env.DFIT_REQUIRE_NATIVE === '1') return false;
  return 'native TensorFlow is not built: run `node bin/durable-fit.cjs backend build`';
}
