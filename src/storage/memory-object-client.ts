/**
 * A Map-backed `ObjectClient` for unit tests: same contract as the MinIO adapter (an object appears
 * only once its whole body arrived, create-only writes, typed not-found), no server.
 */
import { Readable } from 'node:stream';
import { bodyChunks, ObjectExistsError, ObjectNotFoundError, ObjectRangeError } from './object-client';
import type { ObjectClient, ObjectStat, PutBody, PutOptions } from './object-client';

interface StoredObject {
  body: Buffer;
  lastModified: Date;
  metadata: Record<string, string>;
}

export interface MemoryObjectClient extends ObjectClient {
  /** The stored objects, for tests that corrupt or inspect them directly. */
  readonly objects: Map<string, StoredObject>;
}

/** Creates an empty in-memory bucket. */
export function createMemoryObjectClient(bucket = 'memory'): MemoryObjectClient {
  const objects = new Map<string, StoredObject>();
  let exists = true;
  return {
    bucket,
    objects,
    bucketExists: () => Promise.resolve(exists),
    makeBucket: () => {
      exists = true;
      return Promise.resolve();
    },
    async put(key: string, body: PutBody, options: PutOptions = {}) {
      const chunks = bodyChunks(body);
      const bytes = chunks ? Buffer.concat(chunks) : await collect(body as Readable);
      if (options.size !== undefined && options.size !== bytes.length) {
        throw new Error(`put "${key}": body has ${bytes.length} bytes, size says ${options.size}`);
      }
      // Checked after the body arrived, as S3 does: the first writer to finish wins.
      if (options.ifNoneMatch && objects.has(key)) throw new ObjectExistsError(key);
      const metadata = Object.fromEntries(
        Object.entries(options.metadata ?? {}).map(([k, v]) => [k.toLowerCase(), v]),
      );
      objects.set(key, { body: bytes, lastModified: new Date(), metadata });
    },
    get(key: string) {
      const object = objects.get(key);
      if (!object) return Promise.reject(new ObjectNotFoundError(key));
      return Promise.resolve(Readable.from([object.body]));
    },
    getRange(key: string, offset: number, length: number) {
      const object = objects.get(key);
      if (!object) return Promise.reject(new ObjectNotFoundError(key));
      if (offset >= object.body.length) return Promise.reject(new ObjectRangeError(key, offset));
      const body = Readable.from([object.body.subarray(offset, offset + length)]);
      return Promise.resolve({ body, objectSize: object.body.length });
    },
    stat(key: string) {
      const object = objects.get(key);
      return Promise.resolve(object ? toStat(key, object, true) : undefined);
    },
    remove(key: string) {
      objects.delete(key);
      return Promise.resolve();
    },
    // Writes here are atomic: there is never an incomplete upload.
    listIncompleteUploads: () => Promise.resolve([]),
    abortIncompleteUploads: () => Promise.resolve(0),
    list(prefix: string, options: { recursive?: boolean } = {}) {
      const here = (k: string) => options.recursive !== false || !k.slice(prefix.length).includes('/');
      const keys = [...objects.keys()].filter((k) => k.startsWith(prefix) && here(k)).sort();
      return Promise.resolve(keys.map((k) => toStat(k, objects.get(k) as StoredObject, false)));
    },
  };
}

function toStat(key: string, object: StoredObject, withMetadata: boolean): ObjectStat {
  return {
    key,
    size: object.body.length,
    lastModified: object.lastModified,
    metadata: withMetadata ? { ...object.metadata } : {},
  };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream)
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}
