/**
 * What a run name may be: one segment of an object key (`<runName>/epoch=…ckpt`). A foundation
 * module (it imports nothing): the spec checks `runName` with it, and the checkpoint key layout
 * (checkpoint/keys.ts) builds keys from it, without either folder importing the other.
 */

/** The longest run name. */
export const MAX_RUN_NAME = 128;

/** Why a run name is unusable, or undefined when it is fine. */
export function runNameProblem(runName: string): string | undefined {
  if (runName.length === 0) return 'it is empty';
  if (runName.length > MAX_RUN_NAME) return `it is longer than ${MAX_RUN_NAME} characters`;
  if (runName.includes('/') || runName.includes('\\')) return 'it contains a path separator';
  if (/\s/.test(runName)) return 'it contains whitespace';
  if (runName === '.' || runName === '..' || runName.includes('..')) return 'it contains ".."';
  if (!/^[A-Za-z0-9]/.test(runName)) return 'it must start with a letter or digit';
  const bad = /[^A-Za-z0-9._-]/.exec(runName);
  if (bad) return `it contains ${JSON.stringify(bad[0])}`;
  return undefined;
}
