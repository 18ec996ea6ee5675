/**
 * The trainer child's view of the bucket: reads of dataset objects, served by the parent (the
 * worker process, which holds the credentials; trainer-env.ts keeps them out of the child) over the
 * IPC channel. Only `get` of keys under `datasets/` is served; every other call is refused.
 */
import { Readable } from 'node:stream';
import type { ObjectClient } from '../storage/object-client';
import { ObjectNotFoundError } from '../storage/object-client';
import type { SerializedError, TrainerEvent } from './protocol';

type Pending = { resolve(bytes: Uint8Array): void; reject(error: Error): void };

export class IpcDatasetReader {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    readonly bucket: string,
    private readonly send: (event: TrainerEvent) => void,
  ) {}

  /** Bytes of `key`, read by the parent. */
  read(key: string): Promise<Uint8Array> {
    const requestId = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.send({ type: 'dataset-read', requestId, key });
    });
  }

  /** The parent's answer to a read. */
  answer(
    requestId: number,
    bytes: Uint8Array | undefined,
    error: SerializedError | undefined,
    key = '',
  ): void {
    const waiter = this.pending.get(requestId);
    this.pending.delete(requestId);
    if (!waiter) return;
    if (bytes) return waiter.resolve(bytes);
    if (error?.name === 'ObjectNotFoundError') return waiter.reject(new ObjectNotFoundError(key));
    const failure = new Error(error?.message ?? 'the worker could not read the dataset object');
    failure.name = error?.name ?? 'Error';
    waiter.reject(failure);
  }

  /** An ObjectClient whose `get` goes through this reader. */
  client(): ObjectClient {
    const refuse = (what: string) => () =>
      Promise.reject(new Error(`the trainer process reads datasets only (${what} is not available here)`));
    return {
      bucket: this.bucket,
      bucketExists: () => Promise.resolve(true),
      makeBucket: refuse('makeBucket'),
      put: refuse('put'),
      get: async (key: string) => {
        const bytes = await this.read(key).catch((err: unknown) => {
          if (err instanceof ObjectNotFoundError) throw new ObjectNotFoundError(key);
          throw err;
        });
        return Readable.from([Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)]);
      },
      getRange: refuse('getRange'),
      stat: refuse('stat'),
      remove: refuse('remove'),
      list: refuse('list'),
      listIncompleteUploads: refuse('listIncompleteUploads'),
      abortIncompleteUploads: refuse('abortIncompleteUploads'),
    };
  }
}

/** The parent's side: reads `key` for the child, refusing anything outside `datasets/`. */
export async function serveDatasetRead(client: ObjectClient | undefined, key: string): Promise<Uint8Array> {
  if (!client)
    throw new Error('this worker reads no datasets for its trainer (no dataset bucket configured)');
  if (!key.startsWith('datasets/') || key.includes('..'))
    throw new Error(`the trainer may read only dataset objects (datasets/…), not "${key}"`);
  const chunks: Buffer[] = [];
  for await (const chunk of await client.get(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
