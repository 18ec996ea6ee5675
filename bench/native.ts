/** Whether the native TensorFlow backend is built and linked here (the bench runs its rows only then). */
import fs from 'node:fs';
import path from 'node:path';

export function isNativeLoadable(): boolean {
  try {
    const dir = path.dirname(require.resolve('@tensorflow/tfjs-node/package.json'));
    return fs.existsSync(path.join(dir, 'lib', 'napi-v8', 'tfjs_binding.node'));
  } catch {
    return false;
  }
}
