/** A writer SIGKILLed in the middle of a multipart upload: its parts and journal entry stay behind. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { MinioConnection } from '../../src/storage/minio-adapter';

/**
 * Starts test/helpers/slow-upload-child.ts uploading `size` bytes to `key` (in parts above
 * `threshold`), waits until half went out, then SIGKILLs it.
 */
export async function killMidUpload(
  connection: MinioConnection,
  key: string,
  size: number,
  threshold = 64 * 1024 * 1024,
): Promise<void> {
  const args = ['--import', 'tsx', 'test/helpers/slow-upload-child.ts', JSON.stringify(connection), key];
  const child = spawn(process.execPath, [...args, String(size), String(threshold)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit');
  let out = '';
  for await (const chunk of child.stdout) if ((out += String(chunk)).includes('half-sent')) break;
  child.kill('SIGKILL');
  await exited;
}
