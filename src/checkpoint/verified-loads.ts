/**
 * The three loads of the `CheckpointIO` port, each one verified download (`fetchVerified`) decoded
 * as verified-decode.ts does: shared by the store and by decorators that wrap its download.
 */
import type { TrainingState } from '../state';
import type { ExpectedIntegrity, LoadedSource } from './checkpoint-io';
import type { VerifiedDownload } from './integrity';
import { decodeFetched, sourceFromFetched } from './verified-decode';

export abstract class VerifiedLoads {
  abstract fetchVerified(url: string, expected: ExpectedIntegrity): Promise<VerifiedDownload>;

  /**
   * Its embedded payload hash is checked too (computed in the download's pass), except when the
   * caller's own record vouched for the file's SHA-256: the file is then byte for byte the one saved
   * with a valid payload hash.
   */
  async load(url: string, expected: ExpectedIntegrity = {}): Promise<TrainingState> {
    return decodeFetched(await this.fetchVerified(url, expected), url);
  }

  /**
   * One buffer, backed by shared memory (a `SharedArrayBuffer`). A file copied in without our object
   * metadata is checked against the hash it embeds (format v2).
   */
  async loadBytes(url: string, expected: ExpectedIntegrity = {}): Promise<Buffer> {
    return (await this.fetchVerified(url, expected)).bytes;
  }

  /**
   * Binds a starting checkpoint's content to its URL: the hash recorded is that of the bytes
   * verified (also for a file copied in without our object metadata, whose embedded hash is what
   * was checked), and a file whose cursor is not the one its key names is refused.
   */
  async loadSource(url: string): Promise<LoadedSource> {
    return sourceFromFetched(await this.fetchVerified(url, {}), url);
  }
}
