/**
 * The pinned versions of the real servers durable-fit runs locally and in tests. This is the one place
 * to change them; the tools cache is keyed by these versions, so a bump rebuilds once.
 */
export interface ToolSpec {
  /** Binary name. */
  name: 'temporal' | 'minio';
  /** Go package to `go install`. */
  module: string;
  /** Version passed to `go install module@version`. */
  version: string;
}

export const TEMPORAL_CLI: ToolSpec = {
  name: 'temporal',
  module: 'github.com/temporalio/cli/cmd/temporal',
  version: 'v1.5.1',
};

/** MinIO publishes no semver module tags; this pseudo-version is the Feb 2026 tip of `master`. */
export const MINIO_SERVER: ToolSpec = {
  name: 'minio',
  module: 'github.com/minio/minio',
  version: 'v0.0.0-20260212201848-7aac2a2c5b7c',
};

export const TOOLS: readonly ToolSpec[] = [TEMPORAL_CLI, MINIO_SERVER];
