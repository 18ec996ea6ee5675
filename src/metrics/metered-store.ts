/**
 * `MeteredCheckpointIO`: a `CheckpointIO` decorator that reports every checkpoint it writes or reads
 * (bytes and seconds) to a `MetricsRecorder`, so the saver and the loader need no metrics code of
 * their own. It implements the port, so a method added there must be added here too. Writes are
 * timed per call (`save`, `saveEncoded`); reads are timed at the one verified download
 * (`fetchVerified`) and `load`, `loadBytes` and `loadSource` go through it, decoding as the store
 * does (verified-loads.ts). `getToFile` (a CLI download to a file), `stat` and `remove` pass through.
 */
import type {
  CheckpointIO,
  CheckpointStat,
  ExpectedIntegrity,
  SavedCheckpoint,
  SaveOptions,
} from '../checkpoint/checkpoint-io';
import type { EncodedCheckpoint } from '../checkpoint/format';
import type { IntegrityTarget, VerifiedDownload } from '../checkpoint/integrity';
import { VerifiedLoads } from '../checkpoint/verified-loads';
import type { TrainingState } from '../state';
import type { MetricsRecorder } from './recorder';

export class MeteredCheckpointIO extends VerifiedLoads implements CheckpointIO {
  constructor(
    private readonly inner: CheckpointIO,
    private readonly metrics: MetricsRecorder,
  ) {
    super();
  }

  get bucket(): string {
    return this.inner.bucket;
  }

  get signingKeyId(): string | undefined {
    return this.inner.signingKeyId;
  }

  save(runName: string, state: TrainingState, options?: SaveOptions): Promise<SavedCheckpoint> {
    return this.timedSave(() => this.inner.save(runName, state, options));
  }

  saveEncoded(url: string, encoded: EncodedCheckpoint): Promise<SavedCheckpoint> {
    return this.timedSave(() => this.inner.saveEncoded(url, encoded));
  }

  async fetchVerified(url: string, expected: ExpectedIntegrity): Promise<VerifiedDownload> {
    const started = performance.now();
    const fetched = await this.inner.fetchVerified(url, expected);
    this.metrics.observeCheckpoint('load', fetched.bytes.length, seconds(started));
    return fetched;
  }

  getToFile(url: string, file: string, expected?: ExpectedIntegrity): Promise<IntegrityTarget> {
    return this.inner.getToFile(url, file, expected);
  }

  stat(url: string): Promise<CheckpointStat> {
    return this.inner.stat(url);
  }

  remove(url: string): Promise<void> {
    return this.inner.remove(url);
  }

  private async timedSave(write: () => Promise<SavedCheckpoint>): Promise<SavedCheckpoint> {
    const started = performance.now();
    const saved = await write();
    this.metrics.observeCheckpoint('save', saved.bytes, seconds(started));
    return saved;
  }
}

/** `io` reporting its checkpoint writes and reads to `metrics`. */
export function meteredStore(io: CheckpointIO, metrics: MetricsRecorder): CheckpointIO {
  return new MeteredCheckpointIO(io, metrics);
}

function seconds(since: number): number {
  return (performance.now() - since) / 1000;
}
