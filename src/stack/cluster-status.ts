/** `durable-fit stack status --topology cluster [--json]`: what runs where, and the replica's lag. */
import type { DurableFitOptions } from '../config/options';
import { stackCredentialsFile } from '../config/s3-credentials';
import { HISTORY_SHARDS } from './cluster-temporal';
import { savedClusterLayout, TEMPORAL_SERVICES } from './cluster-layout';
import type { ClusterLayout, TemporalService } from './cluster-layout';
import type { ReplicationLag } from './cluster-minio';
import { replicationLag } from './cluster-minio';
import { createMinioObjectClient } from '../storage/minio-adapter';
import { logFileOf, minioNodeName, runningProcess } from './cluster-processes';
import type { ClusterProcess } from './cluster-processes';
import { TEMPORAL_SERVER } from './cluster-versions';

export interface ProcessStatus {
  running: boolean;
  pid?: number;
  address: string;
  logFile: string;
}

export interface ClusterStatus {
  topology: 'cluster';
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  s3Endpoint: string;
  bucket: string;
  taskQueue: string;
  stateDir: string;
  /** True when every process runs. */
  running: boolean;
  credentials: Record<'worker' | 'reader', string> & { replicaWorker: string };
  temporal: {
    version: string;
    persistence: ProcessStatus & {
      plugin: 'postgres12';
      databases: string[];
      dataDir: string;
      historyShards: number;
    };
    services: Record<TemporalService, ProcessStatus>;
    ui: ProcessStatus;
  };
  minio: {
    nodes: (ProcessStatus & { console: string; drives: string[] })[];
    drives: { node: number; path: string }[];
    replica: ProcessStatus & { bucket: string; replication: ReplicationLag | { error: string } };
  };
}

/** Fails when the cluster was never brought up with this state folder. */
export async function clusterStatus(options: DurableFitOptions): Promise<ClusterStatus> {
  const layout = savedClusterLayout(options);
  if (!layout)
    throw new Error(
      `no cluster in ${options.stateDir}: run \`durable-fit stack up --topology cluster\` first (or check DFIT_STATE_DIR)`,
    );
  const proc = (name: ClusterProcess, port: number): ProcessStatus => {
    const rec = runningProcess(layout, name);
    const base = { address: `${layout.host}:${port}`, logFile: logFileOf(layout, name) };
    return rec ? { running: true, pid: rec.pid, ...base } : { running: false, ...base };
  };
  const services = Object.fromEntries(
    TEMPORAL_SERVICES.map((s) => [s, proc(`temporal-${s}`, layout.ports.temporal[s].grpc)]),
  ) as Record<TemporalService, ProcessStatus>;
  const nodes = layout.minioDrives.map((drives, n) => ({
    ...proc(minioNodeName(n), layout.ports.minio[n]?.api ?? 0),
    console: `${layout.host}:${layout.ports.minio[n]?.console}`,
    drives,
  }));
  const replicaProc = proc('minio-replica', layout.ports.replica.api);
  const persistence = proc('postgres', layout.ports.postgres);
  const ui = proc('temporal-ui', layout.ports.ui);
  const all = [persistence, ui, replicaProc, ...Object.values(services), ...nodes];
  return {
    topology: 'cluster',
    temporalAddress: options.temporalAddress,
    namespace: options.namespace,
    uiUrl: `http://${layout.host}:${layout.ports.ui}`,
    s3Endpoint: `http://${layout.host}:${layout.ports.minio[0]?.api}`,
    bucket: options.bucket,
    taskQueue: options.taskQueue,
    stateDir: options.stateDir,
    running: all.every((p) => p.running),
    credentials: {
      worker: stackCredentialsFile(options.stateDir, 'worker'),
      reader: stackCredentialsFile(options.stateDir, 'reader'),
      replicaWorker: stackCredentialsFile(layout.replicaStateDir, 'worker'),
    },
    temporal: {
      version: TEMPORAL_SERVER.version,
      persistence: {
        ...persistence,
        plugin: 'postgres12',
        databases: ['temporal', 'temporal_visibility'],
        dataDir: layout.pgDataDir,
        historyShards: HISTORY_SHARDS,
      },
      services,
      ui,
    },
    minio: {
      nodes,
      drives: layout.minioDrives.flatMap((drives, node) => drives.map((p) => ({ node, path: p }))),
      replica: {
        ...replicaProc,
        bucket: options.bucket,
        replication: await lagOrError(options, layout, nodes[0]?.running === true && replicaProc.running),
      },
    },
  };
}

async function lagOrError(
  options: DurableFitOptions,
  layout: ClusterLayout,
  bothUp: boolean,
): Promise<ReplicationLag | { error: string }> {
  if (!bothUp) return { error: 'a site is down' };
  const client = (port: number) =>
    createMinioObjectClient({
      endpoint: `http://${layout.host}:${port}`,
      accessKey: options.s3RootUser,
      secretKey: options.s3RootPassword,
      region: options.s3Region,
      bucket: options.bucket,
    });
  try {
    return await replicationLag(client(layout.ports.minio[0]?.api ?? 0), client(layout.ports.replica.api));
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
}
