/** The checkpoint store and S3 connection for resolved options (credentials stay in this process). */
import type { DurableFitOptions } from '../config/options';
import { createMinioObjectClient } from '../storage/minio-adapter';
import type { MinioConnection } from '../storage/minio-adapter';
import { signingFromOptions } from './signing-keys';
import { CheckpointStore } from './store';

/** The S3 connection the options describe, for `bucket` (default: the configured one). */
export function s3Connection(options: DurableFitOptions, bucket = options.bucket): MinioConnection {
  return {
    endpoint: options.s3Endpoint,
    accessKey: options.s3AccessKey,
    secretKey: options.s3SecretKey,
    region: options.s3Region,
    bucket,
  };
}

export function createStore(options: DurableFitOptions, bucket = options.bucket): CheckpointStore {
  // Signing keys come from the options (env or file), never from a workflow's input.
  return new CheckpointStore(createMinioObjectClient(s3Connection(options, bucket)), {
    signing: signingFromOptions(options),
    maxCheckpointBytes: options.maxCheckpointBytes,
  });
}
