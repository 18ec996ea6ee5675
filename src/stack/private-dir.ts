/**
 * Folders durable-fit creates on disk for the local stack are its owner's only (0700): the state
 * folder holds workflow histories, checkpoints, logs and credentials; the caches hold the servers
 * and the native TensorFlow build that workers run. Another local user must not read the first nor
 * swap a binary in the second.
 *
 * Folders we create get 0700 (missing parents too). An existing state folder is tightened to 0700
 * (`makePrivateDir` in tls.ts); an existing cache folder keeps its mode, since an operator may share
 * one between accounts on purpose.
 */
import fs from 'node:fs';

/** Owner-only: read, write and enter. */
export const PRIVATE_DIR_MODE = 0o700;

/** Creates `dir` and its missing parents with mode 0700; an existing folder keeps its mode. */
export function createPrivateDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  return dir;
}
