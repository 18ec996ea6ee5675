/**
 * The servers that `npm test` (scripts/test.ts) started for this run, as handed to every test file
 * through the environment. Tests that need them call `testStack()`; run directly without the
 * harness, it fails with a message saying how to run them.
 */
import type { MinioConnection } from '../../src/storage/minio-adapter';

export interface TestStack {
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  s3: MinioConnection;
  /** Paths of the server binaries, for fault tests that start their own servers. */
  temporalBin: string;
  minioBin: string;
}

export const STACK_ENV = 'DFIT_TEST_STACK';

export function testStack(): TestStack {
  const raw = process.env[STACK_ENV];
  if (!raw) {
    throw new Error(
      `no test stack: run tests through \`npm test\` (scripts/test.ts), which starts Temporal and MinIO`,
    );
  }
  return JSON.parse(raw) as TestStack;
}
