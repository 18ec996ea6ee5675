/**
 * A plain MinIO client on a connection, as another tool would use it: none of durable-fit's object
 * client (no deadlines, no resending, no metadata of ours). For tests that put or read objects
 * behind the store's back, or look at what it left (incomplete multipart uploads).
 */
import * as Minio from 'minio';
import { minioAddress } from '../../src/storage/minio-adapter';
import type { MinioConnection } from '../../src/storage/minio-adapter';

export function rawMinioClient(connection: MinioConnection): Minio.Client {
  return new Minio.Client(minioAddress(connection));
}
