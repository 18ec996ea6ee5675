/**
 * A `CheckpointStore` that reports every checkpoint it writes or reads (bytes and seconds) to a
 * `MetricsRecorder`. It is the same store underneath: a view whose `save` and `fetchVerified` (the
 * download path of both `load` and `loadBytes`) are timed, so the saver and the loader need no
 * metrics code of their own.
 */
import type { CheckpointStore } from '../checkpoint/store';
import type { MetricsRecorder } from './recorder';

export function meteredStore(store: CheckpointStore, metrics: MetricsRecorder): CheckpointStore {
  // A view on the store: every other member (and the loads' call to `this.fetchVerified`) resolves here.
  const view = Object.create(store) as CheckpointStore;
  view.save = async (...args: Parameters<CheckpointStore['save']>) => {
    const started = performance.now();
    const saved = await store.save(...args);
    metrics.observeCheckpoint('save', saved.bytes, (performance.now() - started) / 1000);
    return saved;
  };
  view.fetchVerified = async (...args: Parameters<CheckpointStore['fetchVerified']>) => {
    const started = performance.now();
    const fetched = await store.fetchVerified(...args);
    metrics.observeCheckpoint('load', fetched.bytes.length, (performance.now() - started) / 1000);
    return fetched;
  };
  return view;
}
