/**
 * `durable-fit stack up | down | status | reset --topology cluster`: the production shape on one
 * machine. Temporal's four services as separate processes on PostgreSQL, the Web UI server, MinIO
 * as a distributed erasure set, and a second MinIO site the checkpoint bucket replicates to; the
 * same buckets, users, stale-upload expiry and search attributes as the dev stack (stack.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import type { DurableFitOptions } from '../config/options';
import { readCredentialsFile, stackCredentialsFile } from '../config/s3-credentials';
import { clusterLayout, clusterSecrets, forgetClusterLayout, savedClusterLayout } from './cluster-layout';
import type { ClusterLayout } from './cluster-layout';
import { configureReplication, minioNodeArgs, minioNodeConfig } from './cluster-minio';
import {
  ensurePostgresInstalled,
  initPostgres,
  migrateTemporalDatabases,
  postgresCommand,
  waitPostgresReady,
} from './cluster-postgres';
import {
  clusterProcesses,
  logFileOf,
  minioNodeName,
  runningProcess,
  startProcess,
  stopClusterProcess,
} from './cluster-processes';
import type { ClusterProcess } from './cluster-processes';
import type { ClusterStatus } from './cluster-status';
import { clusterStatus } from './cluster-status';
import { prepareTemporal, temporalServiceArgs, uiServerArgs, writeTemporalConfigs } from './cluster-temporal';
import { TEMPORAL_SERVICES } from './cluster-layout';
import {
  CLUSTER_TOOLS,
  TEMPORAL_SERVER,
  TEMPORAL_SQL_TOOL,
  TEMPORAL_UI_SERVER,
  asToolSpec,
} from './cluster-versions';
import { PortInUseError, ServerUnhealthyError } from './errors';
import { httpStatus, isPortFree, waitFor } from './ports';
import { minioEnv, waitMinioHealthy } from './servers';
import { stackStatus } from './stack';
import { ensureTool } from './tools';
import { writePrivateFile } from './tls';
import { ensureStackUsers } from './users';
import { MINIO_CLIENT, MINIO_SERVER } from './versions';

type Log = (line: string) => void;

/** Builds the binaries only the cluster needs (and installs PostgreSQL as root when missing). */
export async function buildCluster(options: DurableFitOptions, log: Log): Promise<string[]> {
  const built = [ensurePostgresInstalled(log)];
  // MinIO and mc are the dev stack's too: `stack build` builds them with the rest.
  for (const tool of CLUSTER_TOOLS.map(asToolSpec))
    built.push(await ensureTool(tool, { toolsDir: options.toolsDir, progress: log }));
  return built;
}

/** Brings the cluster up (what already runs is kept), configures it, and returns its status. */
export async function clusterUp(
  options: DurableFitOptions,
  log: Log,
  up: { codecEndpoint?: string } = {},
): Promise<ClusterStatus> {
  const dev = stackStatus(options);
  if (dev.servers.temporal.running || dev.servers.minio.running)
    throw new Error(
      'the dev stack is running: run `durable-fit stack down` first, then `stack up --topology cluster`',
    );
  const started = Date.now();
  const pgBin = ensurePostgresInstalled(log);
  const tool = async (spec: Parameters<typeof ensureTool>[0]) =>
    ensureTool(spec, { toolsDir: options.toolsDir, progress: log });
  const bins = {
    server: await tool(asToolSpec(TEMPORAL_SERVER)),
    sql: await tool(asToolSpec(TEMPORAL_SQL_TOOL)),
    ui: await tool(asToolSpec(TEMPORAL_UI_SERVER)),
    minio: await tool(MINIO_SERVER),
    mc: await tool(MINIO_CLIENT),
  };
  const layout = await clusterLayout(options);
  for (const dir of [layout.logDir, layout.runDir, layout.replicaDataDir, ...layout.minioDrives.flat()])
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const { pgPassword } = clusterSecrets(layout);
  const early: Promise<never>[] = [];
  const start = async (name: ClusterProcess, port: number, command: Parameters<typeof startProcess>[2]) => {
    if (runningProcess(layout, name)) return;
    if (!(await isPortFree(port, layout.host)))
      throw new PortInUseError(
        port,
        name,
        `\`durable-fit stack reset --topology cluster --yes\` (new ports)`,
      );
    const exit = startProcess(layout, name, command, log);
    if (exit) early.push(exit);
  };
  const healthy = async <T>(wait: Promise<T>) => Promise.race([wait, ...early]);

  if (await initPostgres(layout, pgBin, pgPassword))
    log(`initialised PostgreSQL data in ${layout.pgDataDir}`);
  await start('postgres', layout.ports.postgres, postgresCommand(layout, pgBin));
  const pg = await healthy(waitPostgresReady(layout, pgBin));
  if (!pg.ok)
    throw new ServerUnhealthyError('PostgreSQL', path.join(layout.logDir, 'postgres.log'), pg.detail);
  await healthy(migrateTemporalDatabases(layout, bins.sql, pgPassword, log));

  writeTemporalConfigs(layout, pgPassword);
  // One at a time: the first to start writes the cluster metadata, which the others read (together,
  // they race to insert it and all but one exit).
  for (const service of TEMPORAL_SERVICES) {
    const { grpc, membership } = layout.ports.temporal[service];
    await start(`temporal-${service}`, grpc, {
      bin: bins.server,
      args: temporalServiceArgs(layout, service),
    });
    // Its membership port opens once it has joined (the worker service serves no gRPC of its own).
    const joined = () => isPortFree(membership, layout.host).then((free) => !free);
    const listening = await healthy(waitFor(joined, 60_000));
    if (!listening.ok)
      throw new ServerUnhealthyError(
        `Temporal ${service}`,
        logFileOf(layout, `temporal-${service}`),
        listening.detail,
      );
  }
  await start('temporal-ui', layout.ports.ui, {
    bin: bins.ui,
    args: uiServerArgs(layout, options.namespace, up.codecEndpoint),
  });

  const root = { accessKey: options.s3RootUser, secretKey: options.s3RootPassword };
  for (const node of [...layout.minioDrives.keys(), 'replica' as const]) {
    const config = minioNodeConfig(layout, node, bins.minio, root);
    await start(node === 'replica' ? 'minio-replica' : minioNodeName(node), config.port, {
      bin: bins.minio,
      args: minioNodeArgs(layout, config, node),
      env: { ...minioEnv(config), ...localNodeEnv(config) },
    });
  }
  await healthy(prepareTemporal(layout, options.namespace, log));
  const primary = minioNodeConfig(layout, 0, bins.minio, root);
  const replica = minioNodeConfig(layout, 'replica', bins.minio, root);
  const connection = (c: typeof primary) => ({
    endpoint: `http://${c.host}:${c.port}`,
    accessKey: root.accessKey,
    secretKey: root.secretKey,
    region: options.s3Region,
    bucket: options.bucket,
  });
  // The erasure set takes writes once enough nodes have formatted their drives (write quorum).
  const quorum = `${connection(primary).endpoint}/minio/health/cluster`;
  const formed = await healthy(waitFor(async () => (await httpStatus(quorum)) === 200, 120_000));
  if (!formed.ok) throw new ServerUnhealthyError('the MinIO erasure set', primary.logFile, formed.detail);
  await healthy(
    Promise.all([
      waitMinioHealthy(primary, connection(primary)),
      waitMinioHealthy(replica, connection(replica)),
    ]),
  );
  const admin = (c: typeof primary) => ({
    mcBin: bins.mc,
    endpoint: `http://${c.host}:${c.port}`,
    rootUser: root.accessKey,
    rootPassword: root.secretKey,
  });
  for (const user of await ensureStackUsers(admin(primary), options.bucket, options.stateDir))
    log(`MinIO user ${user.accessKey} (${user.policy}): credentials in ${user.file}`);
  copyKeysToReplica(options, layout);
  await ensureStackUsers(admin(replica), options.bucket, layout.replicaStateDir);
  await configureReplication(
    {
      mcBin: bins.mc,
      primary: admin(primary).endpoint,
      replica: admin(replica).endpoint,
      rootUser: root.accessKey,
      rootPassword: root.secretKey,
    },
    options.bucket,
    log,
  );
  log(`cluster up in ${Math.round((Date.now() - started) / 1000)} s`);
  return clusterStatus(options);
}

/** Stops the cluster's processes, clients before servers; data folders are kept. */
export async function clusterDown(options: DurableFitOptions, log: Log): Promise<void> {
  const layout = savedClusterLayout(options);
  if (!layout) return;
  for (const name of clusterProcesses().reverse()) {
    const pid = await stopClusterProcess(layout, name);
    if (pid !== undefined) log(`stopped ${name} (pid ${pid})`);
  }
}

/** Deletes the cluster's data (PostgreSQL, both MinIO sites, logs, its ports); it must be down. */
export async function clusterReset(options: DurableFitOptions, log: Log): Promise<void> {
  const layout = savedClusterLayout(options);
  if (!layout) return;
  const running = clusterProcesses().filter((name) => runningProcess(layout, name));
  if (running.length)
    throw new Error(
      `the cluster is running (${running.join(', ')}): run \`durable-fit stack down\` before \`stack reset --topology cluster --yes\``,
    );
  for (const target of [layout.pgDataDir, layout.dir]) {
    fs.rmSync(target, { recursive: true, force: true });
    log(`deleted ${target}`);
  }
  // As root the data folder sat in /var/lib/durable-fit/<hash>/: remove that folder when empty.
  if (layout.pgUser) fs.rmSync(path.dirname(layout.pgDataDir), { recursive: true, force: true });
  forgetClusterLayout(options);
}

/**
 * The replica's worker and reader users get the primary's keys, so a worker moved to the replica
 * changes only its endpoint (the replica's credentials files name it).
 */
function copyKeysToReplica(options: DurableFitOptions, layout: ClusterLayout): void {
  for (const role of ['worker', 'reader'] as const) {
    const target = stackCredentialsFile(layout.replicaStateDir, role);
    if (fs.existsSync(target)) continue;
    const { accessKey, secretKey } = readCredentialsFile(stackCredentialsFile(options.stateDir, role));
    fs.mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
    writePrivateFile(target, `${JSON.stringify({ accessKey, secretKey }, null, 2)}\n`);
  }
}

/**
 * In a container (MinIO looks for /.dockerenv), MinIO will not treat a loopback address as a node of a
 * distributed set and waits for it to "resolve to a valid IP" forever; `_MINIO_SERVER_LOCAL` names the
 * endpoint that is this process (MinIO's own escape hatch, cmd/endpoint.go), so each node finds itself
 * and dials the others. Outside a container MinIO tells nodes apart by port, and this changes nothing.
 */
function localNodeEnv(config: { host: string; port: number }): NodeJS.ProcessEnv {
  return {
    _MINIO_SERVER_LOCAL: `${config.host}:${config.port}`,
    // A distributed set refuses drives on the root file system ("drive is part of root drive"); here
    // all eight are folders on one disk by design. Drives of at most 1 byte count as root instead.
    MINIO_ROOTDRIVE_THRESHOLD_SIZE: '1B',
  };
}
