/**
 * The Temporal server of the cluster topology: frontend, history, matching and worker as separate
 * processes of the pinned server binary on PostgreSQL, each with its own config file (they differ in
 * the metrics port), the namespace and the project's search attributes registered through the
 * frontend, and the Web UI server pointed at that frontend.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTES } from '../contract';
import type { ClusterLayout, TemporalService } from './cluster-layout';
import { TEMPORAL_SERVICES } from './cluster-layout';
import { httpStatus, waitFor } from './ports';
import { writePrivateFile } from './tls';

/** Temporal's history shards; fixed once the database is created (docs/operations.md: sizing). */
export const HISTORY_SHARDS = 4;

/** Writes one config file per service (`<service>.yaml`, JSON being YAML) and the dynamic config. */
export function writeTemporalConfigs(layout: ClusterLayout, pgPassword: string): void {
  fs.mkdirSync(layout.temporalConfigDir, { recursive: true, mode: 0o700 });
  const { host, ports } = layout;
  const sql = (databaseName: string, maxConns: number) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName,
      connectAddr: `${host}:${ports.postgres}`,
      connectProtocol: 'tcp',
      user: 'temporal',
      password: pgPassword,
      maxConns,
      maxIdleConns: maxConns,
      maxConnLifetime: '1h',
    },
  });
  const services = Object.fromEntries(
    TEMPORAL_SERVICES.map((name) => [
      name,
      {
        rpc: {
          grpcPort: ports.temporal[name].grpc,
          membershipPort: ports.temporal[name].membership,
          bindOnIP: host,
          ...(name === 'frontend' ? { httpPort: ports.frontendHttp } : {}),
        },
      },
    ]),
  );
  const dynamicConfigFile = path.join(layout.temporalConfigDir, 'dynamic.yaml');
  for (const name of TEMPORAL_SERVICES) {
    const config = {
      log: { stdout: true, level: 'warn' },
      persistence: {
        defaultStore: 'default',
        visibilityStore: 'visibility',
        numHistoryShards: HISTORY_SHARDS,
        datastores: { default: sql('temporal', 10), visibility: sql('temporal_visibility', 4) },
      },
      global: {
        membership: { maxJoinDuration: '30s', broadcastAddress: host },
        metrics: {
          prometheus: {
            framework: 'tally',
            timerType: 'histogram',
            listenAddress: `${host}:${ports.temporal[name].metrics}`,
          },
        },
      },
      services,
      clusterMetadata: {
        enableGlobalNamespace: false,
        failoverVersionIncrement: 10,
        masterClusterName: 'active',
        currentClusterName: 'active',
        clusterInformation: {
          active: {
            enabled: true,
            initialFailoverVersion: 1,
            rpcName: 'frontend',
            rpcAddress: `${host}:${ports.temporal.frontend.grpc}`,
          },
        },
      },
      dcRedirectionPolicy: { policy: 'noop' },
      archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } },
      namespaceDefaults: { archival: { history: { state: 'disabled' }, visibility: { state: 'disabled' } } },
      publicClient: { hostPort: `${host}:${ports.temporal.frontend.grpc}` },
      dynamicConfigClient: { filepath: dynamicConfigFile, pollInterval: '10s' },
    };
    // It holds the database password: owner-only.
    writePrivateFile(
      path.join(layout.temporalConfigDir, `${name}.yaml`),
      `${JSON.stringify(config, null, 2)}\n`,
    );
  }
  const value = (v: unknown) => [{ value: v, constraints: {} }];
  const dynamic = {
    // As the dev server: search attributes usable as soon as `stack up` registered them.
    'system.forceSearchAttributesCacheRefreshOnRead': value(true),
    'frontend.persistenceMaxQPS': value(10000),
    'history.persistenceMaxQPS': value(45000),
    'frontend.enableUpdateWorkflowExecution': value(true),
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted': value(true),
    // A black-holed worker's polls end within 3 s, before its attempt's heartbeat timeout (docs/recovery.md).
    'frontend.keepAliveTime': value('1s'),
    'frontend.keepAliveTimeout': value('2s'),
  };
  fs.writeFileSync(dynamicConfigFile, `${JSON.stringify(dynamic, null, 2)}\n`);
}

/** Command line of one service process. */
export function temporalServiceArgs(layout: ClusterLayout, service: TemporalService): string[] {
  const root = path.dirname(layout.temporalConfigDir);
  return [
    '--root',
    root,
    '--config',
    'config',
    '--env',
    service,
    '--allow-no-auth',
    'start',
    '--service',
    service,
  ];
}

/** The UI server's config (`<uiConfigDir>/cluster.yaml`) and command line. */
export function uiServerArgs(layout: ClusterLayout, namespace: string, codecEndpoint?: string): string[] {
  fs.mkdirSync(layout.uiConfigDir, { recursive: true, mode: 0o700 });
  const config = {
    temporalGrpcAddress: `${layout.host}:${layout.ports.temporal.frontend.grpc}`,
    host: layout.host,
    port: layout.ports.ui,
    enableUi: true,
    defaultNamespace: namespace,
    refreshInterval: '1m',
    notifyOnNewVersion: false,
    cors: { cookieInsecure: true, allowOrigins: [`http://${layout.host}:${layout.ports.ui}`] },
    ...(codecEndpoint ? { codec: { endpoint: codecEndpoint } } : {}),
  };
  fs.writeFileSync(path.join(layout.uiConfigDir, 'cluster.yaml'), `${JSON.stringify(config, null, 2)}\n`);
  return ['--root', path.dirname(layout.uiConfigDir), '--config', 'config', '--env', 'cluster', 'start'];
}

/**
 * Waits for the frontend, registers the namespace (when missing) and the search attributes (when
 * missing), then waits for the Web UI. Registration is idempotent: `up` on a running cluster repeats it.
 */
export async function prepareTemporal(
  layout: ClusterLayout,
  namespace: string,
  log: (line: string) => void,
  timeoutMs = 120_000,
): Promise<void> {
  const address = `${layout.host}:${layout.ports.temporal.frontend.grpc}`;
  let connection: Connection | undefined;
  const up = await waitFor(async () => {
    connection = await Connection.connect({ address, connectTimeout: 1000 });
    await connection.workflowService.getSystemInfo({});
    return true;
  }, timeoutMs);
  if (!up.ok || !connection)
    throw new Error(`the Temporal frontend at ${address} did not answer (${up.ok ? '' : up.detail})`);
  try {
    const registered = await waitFor(
      async () => {
        await ensureNamespace(connection as Connection, namespace, log);
        await ensureSearchAttributes(connection as Connection, namespace, log);
        return true;
      },
      timeoutMs,
      1000,
    );
    if (!registered.ok)
      throw new Error(`registering namespace ${namespace} on ${address}: ${registered.detail}`);
  } finally {
    await connection.close();
  }
  const ui = await waitFor(
    async () => (await httpStatus(`http://${layout.host}:${layout.ports.ui}/`)) === 200,
    60_000,
  );
  if (!ui.ok) throw new Error(`the Temporal Web UI on port ${layout.ports.ui} did not answer (${ui.detail})`);
}

async function ensureNamespace(connection: Connection, namespace: string, log: (line: string) => void) {
  try {
    await connection.workflowService.describeNamespace({ namespace });
    return;
  } catch (err) {
    if ((err as { code?: number }).code !== 5) throw err; // NOT_FOUND: register it below
  }
  await connection.workflowService.registerNamespace({
    namespace,
    workflowExecutionRetentionPeriod: msToTs('3 days'),
  });
  log(`Temporal namespace ${namespace} registered (retention 3 days)`);
}

async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  log: (line: string) => void,
) {
  const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((key) => !customAttributes?.[key.name]);
  if (missing.length === 0) return;
  const types = temporal.api.enums.v1.IndexedValueType;
  const searchAttributes = Object.fromEntries(
    missing.map((key) => [key.name, types[`INDEXED_VALUE_TYPE_${key.type}` as keyof typeof types]]),
  );
  await connection.operatorService.addSearchAttributes({ namespace, searchAttributes });
  log(`Temporal search attributes registered: ${missing.map((k) => k.name).join(', ')}`);
}
