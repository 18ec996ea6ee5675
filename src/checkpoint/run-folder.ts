/**
 * `RunFolder`: everything about the run folders of a bucket that is not one checkpoint's bytes —
 * listings of their checkpoints and objects, the small JSON documents runs keep there (the per-epoch
 * log, pins: pins.ts), and the clean-up of multipart uploads a killed writer left behind. Retention
 * (run-retention.ts) reads its input from here; deleting a checkpoint is `CheckpointIO.remove`.
 * `ObjectRunFolder` implements it over an `ObjectClient`.
 */
import type { ObjectClient } from '../storage/object-client';
import { ObjectNotFoundError } from '../storage/object-client';
import type { CheckpointRecord } from './checkpoint-listing';
import { listCheckpoints } from './checkpoint-listing';
import { CKPT_EXTENSION, formatCheckpointUrl, runPrefix } from './keys';

export interface RunFolder {
  /** Bucket the folders are in. */
  readonly bucket: string;
  /** A run's checkpoints, oldest first by (epoch, step). */
  list(runName: string): Promise<CheckpointRecord[]>;
  /** URLs of every `.ckpt` under `<run>/<folder>/` (e.g. a data-parallel run's `parallel`), by key. */
  listCkptUrlsUnder(runName: string, folder: string): Promise<string[]>;
  /** Names of the run folders (holding checkpoints) that start with `prefix`, sorted. */
  runsStartingWith(prefix: string): Promise<string[]>;
  /** Every object key in a run's folder, subfolders included (pins, logs, uploads, `parallel/`). */
  listFolderKeys(runName: string): Promise<string[]>;
  /**
   * Writes a small JSON document under the run's folder (e.g. `log/epoch=000123.json`); returns its
   * URL. Overwrites: a re-run of the same epoch logs the same facts.
   */
  putRunJson(runName: string, name: string, value: unknown): Promise<string>;
  /** The JSON documents under `<run>/<folder>/` (e.g. `pins`), in key order; unreadable ones skipped. */
  listRunJson(runName: string, folder: string): Promise<unknown[]>;
  /**
   * Aborts the incomplete multipart uploads under a run's folder: parts a killed writer left behind
   * (invisible, but stored and billed). Call it only when no writer of this run is alive, e.g. when
   * a resume starts. Uploads that were in flight when a later run took the folder over belong to the
   * run before it and are left alone (they are listed in that run's hold, pins.ts). `under`: only in
   * that subfolder (e.g. `parallel/round=0003`). Returns how many uploads were aborted.
   */
  abortIncompleteUploads(runName: string, under?: string): Promise<number>;
}

export class ObjectRunFolder implements RunFolder {
  constructor(private readonly objects: ObjectClient) {}

  get bucket(): string {
    return this.objects.bucket;
  }

  async list(runName: string): Promise<CheckpointRecord[]> {
    // Checkpoints sit at the folder's top level: the run's log/, pins/ and .uploads/ are not listed.
    const records = await listCheckpoints(this.objects, runPrefix(runName), false);
    return records.filter((r) => r.runName === runName);
  }

  async listCkptUrlsUnder(runName: string, folder: string): Promise<string[]> {
    const objects = await this.objects.list(`${runPrefix(runName)}${folder}/`, { recursive: true });
    const keys = objects.map((o) => o.key).filter((k) => k.endsWith(CKPT_EXTENSION));
    return keys.sort().map((key) => formatCheckpointUrl(this.bucket, key));
  }

  async runsStartingWith(prefix: string): Promise<string[]> {
    const runs = new Set((await listCheckpoints(this.objects, prefix)).map((r) => r.runName));
    return [...runs].sort();
  }

  async listFolderKeys(runName: string): Promise<string[]> {
    return (await this.objects.list(runPrefix(runName), { recursive: true })).map((o) => o.key).sort();
  }

  async putRunJson(runName: string, name: string, value: unknown): Promise<string> {
    const key = `${runPrefix(runName)}${name}`;
    await this.objects.put(key, Buffer.from(JSON.stringify(value, null, 1)));
    return formatCheckpointUrl(this.bucket, key);
  }

  async listRunJson(runName: string, folder: string): Promise<unknown[]> {
    const out: unknown[] = [];
    for (const object of await this.objects.list(`${runPrefix(runName)}${folder}/`)) {
      if (!object.key.endsWith('.json')) continue;
      try {
        const chunks: Buffer[] = [];
        for await (const chunk of await this.objects.get(object.key)) chunks.push(chunk as Buffer);
        out.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        if (!(err instanceof ObjectNotFoundError || err instanceof SyntaxError)) throw err;
      }
    }
    return out;
  }

  async abortIncompleteUploads(runName: string, under?: string): Promise<number> {
    const held = (await this.listRunJson(runName, 'pins')).flatMap((pin) => {
      const uploads = (pin as { uploads?: unknown } | null)?.uploads;
      return Array.isArray(uploads) ? uploads.filter((u): u is string => typeof u === 'string') : [];
    });
    const prefix = `${runPrefix(runName)}${under ? `${under}/` : ''}`;
    return this.objects.abortIncompleteUploads(prefix, { except: held });
  }
}
