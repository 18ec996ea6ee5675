/**
 * The pinned versions of the real servers durable-fit runs locally and in tests. This is the one place
 * to change them; the tools cache is keyed by these versions, so a bump rebuilds once.
 */
export interface ToolSpec {
  /** Binary name (in the tools cache). */
  name: 'temporal' | 'minio' | 'mc' | 'toxiproxy-server';
  /** Go package to `go install`. */
  module: string;
  /** The file `go install` writes, when it is not `name` (the last element of `module`). */
  installs?: string;
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

/**
 * MinIO's client, for its admin API (users and policies; minio-js has no admin calls). No semver tags
 * either: this is what `go list -m github.com/minio/mc@latest` resolves on the Go proxy (Mar 2025 tip).
 */
export const MINIO_CLIENT: ToolSpec = {
  name: 'mc',
  module: 'github.com/minio/mc',
  version: 'v0.0.0-20250313080218-cf909e1063a9',
};

/**
 * Shopify's toxiproxy, the TCP fault proxy the fault-matrix tests put between workers and MinIO and
 * Temporal (refused, black-holed, slow connections). Tests only; `go install` names its binary `server`.
 */
export const TOXIPROXY_SERVER: ToolSpec = {
  name: 'toxiproxy-server',
  module: 'github.com/Shopify/toxiproxy/v2/cmd/server',
  version: 'v2.12.0',
  installs: 'server',
};

export const TOOLS: readonly ToolSpec[] = [TEMPORAL_CLI, MINIO_SERVER, MINIO_CLIENT, TOXIPROXY_SERVER];
