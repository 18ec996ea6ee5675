/** Both checkpoint ports over one in-memory object client, as a worker gets them over MinIO. */
import type { CheckpointIOOptions } from '../../src/checkpoint/object-checkpoint-io';
import { ObjectCheckpointIO } from '../../src/checkpoint/object-checkpoint-io';
import { ObjectRunFolder } from '../../src/checkpoint/run-folder';
import type { ObjectClient } from '../../src/storage/object-client';
import { createMemoryObjectClient } from '../../src/storage/memory-object-client';

export function storageOver<T extends ObjectClient>(objects: T, options: CheckpointIOOptions = {}) {
  return { objects, store: new ObjectCheckpointIO(objects, options), runs: new ObjectRunFolder(objects) };
}

export function memoryStorage(bucket?: string, options: CheckpointIOOptions = {}) {
  return storageOver(createMemoryObjectClient(bucket), options);
}
