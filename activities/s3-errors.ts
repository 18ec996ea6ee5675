/** Turns S3 authentication failures into one clear, non-retryable error. */
import type { FailureKind } from '../src/failure-kind';
import type { CheckpointStore } from '../src/checkpoint/store';
import { s3ErrorCode } from '../src/storage/minio-adapter';

const CREDENTIAL_CODES = ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'InvalidToken'];

export class S3CredentialsError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'S3CredentialsError';
  constructor(
    readonly bucket: string,
    readonly code: string,
  ) {
    super(
      `the object store refused the worker's credentials for bucket "${bucket}" (${code}). ` +
        'Set DFIT_S3_ACCESS_KEY and DFIT_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY) ' +
        'in the worker environment and restart it.',
    );
  }
}

/** Checks that the bucket exists and that the credentials are accepted. */
export async function assertS3Access(store: CheckpointStore, runName: string): Promise<void> {
  try {
    await store.list(runName);
  } catch (err) {
    const code = s3ErrorCode(err);
    if (code && CREDENTIAL_CODES.includes(code)) throw new S3CredentialsError(store.bucket, code);
    throw err;
  }
}
