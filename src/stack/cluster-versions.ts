/**
 * The pinned servers of the cluster topology (`stack up --topology cluster`), built like the dev
 * stack's (src/stack/tools.ts, cached per version beside them). The Temporal server is v1.29.1, the
 * version the pinned CLI (versions.ts TEMPORAL_CLI v1.5.1) embeds, so its modules are mostly in the Go
 * module cache already; the UI server is the one that CLI embeds (v2.42.1).
 */
import type { ToolSpec } from './versions';

/** A tool of the cluster topology; `ToolSpec` with a name outside versions.ts's union. */
export interface ClusterToolSpec extends Omit<ToolSpec, 'name'> {
  name: 'temporal-server' | 'temporal-sql-tool' | 'temporal-ui-server';
}

export const TEMPORAL_SERVER: ClusterToolSpec = {
  name: 'temporal-server',
  module: 'go.temporal.io/server/cmd/server',
  installs: 'server',
  version: 'v1.29.1',
};

/** Creates and migrates the SQL databases; the schemas are embedded in it (`--schema-name`). */
export const TEMPORAL_SQL_TOOL: ClusterToolSpec = {
  name: 'temporal-sql-tool',
  module: 'go.temporal.io/server/cmd/tools/sql',
  installs: 'sql',
  version: 'v1.29.1',
};

/** The Web UI server (the one `temporal server start-dev` embeds), pointed at the cluster's frontend. */
export const TEMPORAL_UI_SERVER: ClusterToolSpec = {
  name: 'temporal-ui-server',
  module: 'github.com/temporalio/ui-server/v2/cmd/server',
  installs: 'server',
  version: 'v2.42.1',
};

export const CLUSTER_TOOLS: readonly ClusterToolSpec[] = [
  TEMPORAL_SERVER,
  TEMPORAL_SQL_TOOL,
  TEMPORAL_UI_SERVER,
];

/**
 * tools.ts only reads a spec's module, version, installs and name (as a folder name), so a cluster
 * tool goes through it unchanged. (versions.ts's `ToolSpec.name` union does not list these names;
 * widening it there would make this cast unnecessary.)
 */
export const asToolSpec = (tool: ClusterToolSpec): ToolSpec => tool as unknown as ToolSpec;
