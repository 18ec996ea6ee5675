/**
 * Datasets in the bucket, through the ObjectClient port:
 *
 *   datasets/<name>/<version>/shard-NNNNN.parquet   immutable shards
 *   datasets/<name>/<version>/manifest.json         written last, create-only; version = its SHA-256
 *   datasets/<name>/latest                          the name's newest version (a pointer)
 *
 * A version exists once its manifest does: shards left by an interrupted import, without a
 * manifest, are never read as a version. Every shard read is checked against the manifest's SHA-256.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { ObjectClient } from '../storage/object-client';
import { ObjectExistsError, ObjectNotFoundError } from '../storage/object-client';
import {
  AmbiguousDatasetVersionError,
  DatasetFetchError,
  DatasetNotFoundError,
  InvalidDatasetRefError,
  ShardIntegrityError,
} from './errors';
import type { DatasetManifest } from './manifest';
import { datasetNameProblem, manifestBytes, manifestHash, parseManifest } from './manifest';

export const DATASETS_PREFIX = 'datasets/';

export interface DatasetRef {
  name: string;
  /** A full version hash or a unique prefix of at least 8 characters; undefined = latest. */
  version?: string;
}

export interface ResolvedDataset {
  name: string;
  version: string;
  manifest: DatasetManifest;
}

/** `name` or `name@version` → its parts; throws `InvalidDatasetRefError` with what to write instead. */
export function parseDatasetRef(text: string): DatasetRef {
  const [name = '', version, ...rest] = text.split('@');
  const problem = datasetNameProblem(name);
  if (problem) throw new InvalidDatasetRefError(text, `the name ${problem}`);
  if (rest.length > 0 || (version !== undefined && !/^[0-9a-f]{8,64}$/.test(version)))
    throw new InvalidDatasetRefError(text, 'write name or name@version (8-64 hex digits of the version)');
  return version === undefined ? { name } : { name, version };
}

/** `name@<version>`: the reference that names exactly one version. */
export const pinnedRef = (d: { name: string; version: string }): string => `${d.name}@${d.version}`;

/** Whether a reference names its version in full (64 hex digits): no listing needed to resolve it. */
export function isPinnedRef(ref: DatasetRef): ref is Required<DatasetRef> {
  return ref.version?.length === 64;
}

export const versionPrefix = (name: string, version: string) => `${DATASETS_PREFIX}${name}/${version}/`;
export const manifestKey = (name: string, version: string) => `${versionPrefix(name, version)}manifest.json`;
export const shardKey = (name: string, version: string, file: string) =>
  `${versionPrefix(name, version)}${file}`;
export const latestKey = (name: string) => `${DATASETS_PREFIX}${name}/latest`;

export class DatasetStore {
  constructor(readonly client: ObjectClient) {}

  get bucket(): string {
    return this.client.bucket;
  }

  /** `s3://bucket/datasets/<name>/<version>/` of a version. */
  url(name: string, version: string): string {
    return `s3://${this.bucket}/${versionPrefix(name, version)}`;
  }

  async resolve(ref: DatasetRef | string): Promise<ResolvedDataset> {
    const { name, version } = typeof ref === 'string' ? parseDatasetRef(ref) : ref;
    const label = version ? `${name}@${version}` : name;
    let full: string;
    if (version === undefined) {
      const pointer = await this.readOptional(latestKey(name));
      if (!pointer) throw new DatasetNotFoundError(label, this.bucket);
      full = (JSON.parse(pointer.toString('utf8')) as { version: string }).version;
    } else if (version.length === 64) {
      full = version;
    } else {
      const matches = (await this.versions(name)).filter((v) => v.startsWith(version)).sort();
      if (matches.length > 1) throw new AmbiguousDatasetVersionError(label, matches);
      if (matches.length === 0)
        throw new DatasetNotFoundError(
          label,
          this.bucket,
          `no version of ${name} starts with ${version}; \`durable-fit data ls ${name}\` lists its versions`,
        );
      full = matches[0] as string;
    }
    const key = manifestKey(name, full);
    const bytes = await this.readOptional(key);
    if (!bytes)
      throw new DatasetNotFoundError(
        label,
        this.bucket,
        `no manifest at ${key}; \`durable-fit data ls ${name}\` lists its versions`,
      );
    return { name, version: full, manifest: parseManifest(bytes, full, key) };
  }

  /** The versions of a dataset that have a manifest (complete imports). */
  async versions(name: string): Promise<string[]> {
    const objects = await this.client.list(`${DATASETS_PREFIX}${name}/`, { recursive: true });
    return objects
      .map((o) => /^datasets\/[^/]+\/([0-9a-f]{64})\/manifest\.json$/.exec(o.key)?.[1])
      .filter((v): v is string => v !== undefined);
  }

  /** Dataset names that have a latest pointer. */
  async names(): Promise<string[]> {
    const objects = await this.client.list(DATASETS_PREFIX, { recursive: true });
    return objects
      .map((o) => /^datasets\/([^/]+)\/latest$/.exec(o.key)?.[1])
      .filter((n): n is string => n !== undefined)
      .sort();
  }

  /** One shard's bytes, checked against the manifest (size and SHA-256). */
  async readShard(dataset: ResolvedDataset, index: number): Promise<Buffer> {
    const entry = dataset.manifest.shards[index];
    if (!entry) throw new RangeError(`dataset ${dataset.name} has no shard ${index}`);
    const key = shardKey(dataset.name, dataset.version, entry.file);
    const bytes = await this.readOptional(key);
    if (!bytes) throw new ShardIntegrityError(key, 'it is missing from the bucket');
    if (bytes.length !== entry.bytes)
      throw new ShardIntegrityError(key, `it has ${bytes.length} bytes, the manifest says ${entry.bytes}`);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (sha256 !== entry.sha256)
      throw new ShardIntegrityError(key, `its SHA-256 is ${sha256}, the manifest says ${entry.sha256}`);
    return bytes;
  }

  /**
   * Publishes a version: uploads the shards (`shardBytes(i)` gives shard i's bytes), then the
   * manifest (create-only), then moves the latest pointer. Publishing the same rows again finds the
   * same version and changes nothing but the pointer.
   */
  async publish(
    manifest: DatasetManifest,
    shardBytes: (index: number) => Promise<Buffer>,
  ): Promise<{ version: string; existed: boolean }> {
    const version = manifestHash(manifest);
    const existed = (await this.client.stat(manifestKey(manifest.name, version))) !== undefined;
    if (!existed) {
      for (const [index, entry] of manifest.shards.entries()) {
        const body = await shardBytes(index);
        const key = shardKey(manifest.name, version, entry.file);
        await this.client.put(key, body, { size: body.length, sha256: entry.sha256 });
      }
      try {
        await this.client.put(manifestKey(manifest.name, version), manifestBytes(manifest), {
          ifNoneMatch: true,
        });
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err; // an identical import finished first
      }
    }
    await this.client.put(latestKey(manifest.name), Buffer.from(JSON.stringify({ version })));
    return { version, existed };
  }

  private async readOptional(key: string): Promise<Buffer | undefined> {
    try {
      return await collect(await this.client.get(key));
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return undefined;
      throw new DatasetFetchError(key, err);
    }
  }
}

async function collect(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
