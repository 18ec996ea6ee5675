/** Turns S3 authentication failures into one clear, non-retryable error. */
import type { FailureKind } from '../src/failure-kind';
import type { RunFolder } from '../src/checkpoint/run-folder';
import { ObjectAccessDeniedError } from '../src/storage/object-client';

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

/** Checks that the bucket exists and that the credentials are accepted (the store's typed refusal). */
export async function assertS3Access(runs: RunFolder, runName: string): Promise<void> {
  try {
    await runs.list(runName);
  } catch (err) {
    const denied = refusal(err);
    if (denied) throw new S3CredentialsError(runs.bucket, denied.code);
    throw err;
  }
}

function refusal(err: unknown): ObjectAccessDeniedError | undefined {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 16; e = e.cause, depth++) {
    if (e instanceof ObjectAccessDeniedError) return e;
  }
  return undefined;
}
