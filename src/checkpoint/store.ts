/**
 * TEMPORARY (issue 21 item 2): the old store module's names, for the callers not yet moved to the
 * split ports — activities/checkpoint-saver.ts, activities/parallel-keys.ts and
 * test/unit/{epoch-activity,shard-activity,checkpoint-saver,checkpoint-now,attempt}.test.ts.
 * `CheckpointStore` is now only the checkpoint I/O port (`CheckpointIO`, checkpoint-io.ts, implemented
 * by `ObjectCheckpointIO`): the run-folder methods are `RunFolder`'s (run-folder.ts). Delete this
 * file once nothing imports it.
 */
import type { CheckpointIO } from './checkpoint-io';
import { ObjectCheckpointIO } from './object-checkpoint-io';

/** @deprecated the checkpoint I/O port: use `CheckpointIO` (checkpoint-io.ts). */
export type CheckpointStore = CheckpointIO;
/** @deprecated use `ObjectCheckpointIO` (object-checkpoint-io.ts). */
export const CheckpointStore = ObjectCheckpointIO;

export { SHA256_METADATA_KEY } from './checkpoint-io';
export type {
  CheckpointStat,
  ExpectedIntegrity,
  LoadedSource,
  SavedCheckpoint,
  SaveOptions,
} from './checkpoint-io';
export type { CheckpointRecord } from './checkpoint-listing';
