/**
 * Finding a killed writer's multipart uploads. MinIO lists incomplete uploads only by exact object
 * name, not by prefix, so every multipart upload of the adapter leaves a small journal entry next to
 * its key while it runs (`run/.uploads/<name>.<hash>.json`, not a checkpoint key) and removes it when
 * the upload completes or aborts; cleanup lists the entries by prefix.
 */
import { createHash } from 'node:crypto';
import type * as Minio from 'minio';

const JOURNAL_DIR = '.uploads';
const JOURNAL_PATTERN = new RegExp(`(^|/)\\${JOURNAL_DIR}/[^/]+\\.json$`);

/**
 * `run/epoch=….ckpt` + id → `run/.uploads/epoch=….ckpt.<hash of id>.json` (not a checkpoint key);
 * the body holds the key and the upload id (too long for a key segment).
 */
export function journalKey(key: string, uploadId: string): string {
  const slash = key.lastIndexOf('/');
  const id = createHash('sha256').update(uploadId).digest('hex').slice(0, 16);
  return `${key.slice(0, slash + 1)}${JOURNAL_DIR}/${key.slice(slash + 1)}.${id}.json`;
}

/**
 * MinIO lists incomplete uploads only by exact object name, not by prefix, so every multipart
 * upload leaves a journal entry next to its key while it runs; this finds them by prefix.
 */
export async function journaledUploads(client: Minio.Client, bucket: string, prefix: string) {
  const out: { key: string; uploadId: string; journal: string }[] = [];
  for await (const item of client.listObjectsV2(bucket, prefix, true)) {
    const journal = (item as { name?: string }).name;
    if (!journal || !JOURNAL_PATTERN.test(journal)) continue;
    const entry = JSON.parse((await readAll(await client.getObject(bucket, journal))).toString('utf8')) as {
      key?: unknown;
      uploadId?: unknown;
    };
    if (typeof entry.key === 'string' && typeof entry.uploadId === 'string')
      out.push({ key: entry.key, uploadId: entry.uploadId, journal });
  }
  return out;
}

/** The live incomplete uploads of exactly `key`. */
export async function incompleteUploads(client: Minio.Client, bucket: string, prefix: string) {
  const out: { key: string; uploadId: string }[] = [];
  for await (const item of client.listIncompleteUploads(bucket, prefix, true)) {
    const upload = item as { key?: string; uploadId?: string };
    if (upload.key && upload.uploadId) out.push({ key: upload.key, uploadId: upload.uploadId });
  }
  return out;
}

async function readAll(stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
