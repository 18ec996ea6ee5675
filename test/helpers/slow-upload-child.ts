/**
 * Child process for the killed-upload test: starts a create-only upload of `size` bytes to `key`
 * through the MinIO adapter, sends half the body, prints "half-sent" and then stalls until killed.
 * argv: <connection JSON> <key> <size> <multipartThresholdBytes>
 */
import { Readable } from 'node:stream';
import { createMinioObjectClient } from '../../src/storage/minio-adapter';

const [connection = '{}', key = '', sizeText = '0', threshold = '67108864'] = process.argv.slice(2);
const size = Number(sizeText);
const objects = createMinioObjectClient(JSON.parse(connection), {
  multipartThresholdBytes: Number(threshold),
  partSizeBytes: 5 * 1024 * 1024,
});
const chunk = Buffer.alloc(1024 * 1024, 7);
let sent = 0;
const body = new Readable({
  read() {
    if (sent >= size / 2) {
      if (sent < size) process.stdout.write('half-sent\n');
      sent = size; // stall: never push again
      return;
    }
    sent += chunk.length;
    this.push(chunk);
  },
});
// The sha256 is a placeholder: the upload never completes, the parent kills us first.
void objects.put(key, body, { size, ifNoneMatch: true, sha256: 'a'.repeat(64) });
