/** What can go wrong with a dataset, each error saying what happened and what to do. */
import type { FailureKind } from '../failure-kind';

/** Bad input to `data import`: names the file and the row (1-based, as an editor shows it). */
export class DatasetInputError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'DatasetInputError';
  constructor(
    readonly file: string,
    readonly row: number | undefined,
    detail: string,
  ) {
    super(`${file}${row !== undefined ? `, row ${row}` : ''}: ${detail}; nothing was imported`);
  }
}

/** A stored manifest that is not what its key promises. Never retried: the bytes will not change. */
export class ManifestIntegrityError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'ManifestIntegrityError';
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`dataset manifest ${key} is damaged: ${detail}; re-import the dataset`);
  }
}

/** A shard whose bytes do not match the manifest: refused, never skipped. */
export class ShardIntegrityError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'ShardIntegrityError';
  constructor(
    readonly key: string,
    detail: string,
  ) {
    super(`dataset shard ${key} does not match its manifest: ${detail}; re-import the dataset`);
  }
}

/** Reading a shard or manifest failed for an infrastructure reason (network, server): retried. */
export class DatasetFetchError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'DatasetFetchError';
  constructor(
    readonly key: string,
    cause: unknown,
  ) {
    super(`could not read dataset object ${key}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

/** No dataset (or no such version of it) in the bucket. */
export class DatasetNotFoundError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'DatasetNotFoundError';
  constructor(
    readonly reference: string,
    readonly bucket: string,
    detail = '',
  ) {
    super(
      `no dataset ${reference} in bucket ${bucket}${detail ? ` (${detail})` : ''}; ` +
        'import it with `durable-fit data import <file> --name <name>` or list them with `durable-fit data ls`',
    );
  }
}

/** A checkpoint trained on one dataset version, resumed against another. */
export class DatasetVersionMismatchError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'DatasetVersionMismatchError';
  constructor(
    readonly checkpointHash: string,
    readonly datasetHash: string,
  ) {
    super(
      `the checkpoint was trained on dataset version ${checkpointHash}, this run reads ${datasetHash}; ` +
        'resume with the same version, or fork with `--dataset name@version` to change it explicitly',
    );
  }
}

/** A dataset reference that is not `name`, `name@<version>` or `name@<8 or more hex digits of it>`. */
export class InvalidDatasetRefError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'InvalidDatasetRefError';
  constructor(
    readonly reference: string,
    detail: string,
  ) {
    super(`dataset "${reference}": ${detail}`);
  }
}

/** A version prefix that more than one version of the dataset starts with. */
export class AmbiguousDatasetVersionError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'AmbiguousDatasetVersionError';
  constructor(
    readonly reference: string,
    readonly matches: readonly string[],
  ) {
    const name = reference.split('@')[0] ?? reference;
    super(
      `dataset ${reference} is ambiguous: ${matches.length} versions start with that prefix ` +
        `(${matches.join(', ')}); write more of it, or the version in full ` +
        `(\`durable-fit data ls ${name}\` lists them)`,
    );
  }
}
