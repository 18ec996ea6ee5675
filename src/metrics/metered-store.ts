/**
 * A `CheckpointStore` that reports every checkpoint it writes or reads (bytes and seconds) to a
 * `MetricsRecorder`. It is the same store underneath: a view whose `save` and `loadBytes` are timed
 * (`load` goes through `loadBytes`), so the saver and the loader need no metrics code of their own.
 */
import type { CheckpointStore } from '../checkpoint/store';
import type { MetricsRecorder } from './recorder';

export function meteredStore(store: CheckpointStore, metrics: MetricsRecorder): CheckpointStore {
  // A view on the store: every other member (and `load`'s call to `this.loadBytes`) resolves here.
  const view = Object.create(store) as CheckpointStore;
  view.save = async (...args: Parameters<CheckpointStore['save']>) => {
    const started = performance.now();
    const saved = await store.save(...args);
    metrics.observeCheckpoint('save', saved.bytes, (performance.now() - started) / 1000);
    return saved;
  };
  view.loadBytes = async (...args: Parameters<CheckpointStore['loadBytes']>) => {
    const started = performance.now();
    const bytes = await store.loadBytes(...args);
    metrics.observeCheckpoint('load', bytes.length, (performance.now() - started) / 1000);
    return bytes;
  };
  return view;
}
