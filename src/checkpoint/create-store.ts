/**
 * The checkpoint I/O port, the run folders and the S3 connection for resolved options (credentials
 * stay in this process).
 */
import fs from 'node:fs';
import { DEFAULTS } from '../config/options';
import type { DurableFitOptions } from '../config/options';
import { resolveS3Credentials } from '../config/s3-credentials';
import type { S3Role } from '../config/s3-credentials';
import { createMinioObjectClient } from '../storage/minio-adapter';
import type { MinioConnection } from '../storage/minio-adapter';
import { signingFromOptions } from './signing-keys';
import type { CheckpointIO } from './checkpoint-io';
import { ObjectCheckpointIO } from './object-checkpoint-io';
import type { RunFolder } from './run-folder';
import { ObjectRunFolder } from './run-folder';

/**
 * The S3 connection the options describe, for `bucket` (default: the configured one), with the
 * credentials of `role` (src/config/s3-credentials.ts; throws `S3CredentialsMissingError` when there
 * are none). Credentials from the local stack's file bring its endpoint and CA unless set explicitly.
 */
export function s3Connection(
  options: DurableFitOptions,
  bucket = options.bucket,
  role: S3Role = 'worker',
): MinioConnection {
  const credentials = resolveS3Credentials(options, role);
  // The stack's file knows whether its MinIO serves TLS: it wins for the default or the same host:port.
  const endpoint =
    credentials.endpoint &&
    (options.s3Endpoint === DEFAULTS.s3Endpoint ||
      new URL(options.s3Endpoint).host === new URL(credentials.endpoint).host)
      ? credentials.endpoint
      : options.s3Endpoint;
  const caFile = options.s3CaFile || credentials.caFile;
  return {
    endpoint,
    accessKey: credentials.accessKey,
    secretKey: credentials.secretKey,
    region: options.s3Region,
    bucket,
    ...(caFile && endpoint.startsWith('https:') ? { ca: readCa(caFile) } : {}),
  };
}

/** What a worker's activities need of a bucket, as `ActivityDeps` names them: one client under both. */
export interface CheckpointStorage {
  /** Single checkpoints: save, verified load, stat, delete. */
  store: CheckpointIO;
  /** Run folders: listings, logs, pins, upload clean-up. */
  runs: RunFolder;
}

/**
 * Both ports over one S3 client: `new DurableTrainingPlugin({ ...createStorage(options), engine })`.
 * Signing keys come from the options (env or file), never from a workflow's input.
 */
export function createStorage(
  options: DurableFitOptions,
  bucket = options.bucket,
  role: S3Role = 'worker',
): CheckpointStorage {
  const deadline = { baseMs: options.s3DeadlineMs, perMiBMs: options.s3DeadlinePerMiBMs };
  const objects = createMinioObjectClient(s3Connection(options, bucket, role), { deadline });
  const store = new ObjectCheckpointIO(objects, {
    signing: signingFromOptions(options),
    maxCheckpointBytes: options.maxCheckpointBytes,
  });
  return { store, runs: new ObjectRunFolder(objects) };
}

/** The checkpoint I/O port alone (e.g. for `registerS3IOHandlers`, or to load one checkpoint). */
export function createStore(
  options: DurableFitOptions,
  bucket = options.bucket,
  role: S3Role = 'worker',
): CheckpointIO {
  return createStorage(options, bucket, role).store;
}

/** The run folders alone (listings, logs, pins) of a bucket. */
export function createRunFolder(
  options: DurableFitOptions,
  bucket = options.bucket,
  role: S3Role = 'worker',
): RunFolder {
  return createStorage(options, bucket, role).runs;
}

function readCa(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `cannot read the S3 CA certificate ${file} (DFIT_S3_CA_FILE): ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}
