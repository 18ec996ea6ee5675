/**
 * Where the cluster topology (`stack up --topology cluster`) puts each thing, and on which loopback
 * ports. The ports clients use come from the options (the frontend at `temporalAddress`, the Web UI
 * at `temporalUiPort`, MinIO's first node at `s3Endpoint`); the others are picked free on the first
 * `up` and kept in `<stateDir>/cluster/layout.json`, so the cluster comes back on the same ones.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DurableFitOptions } from '../config/options';
import { splitHostPort } from '../config/options';
import { freePorts, isPortFree } from './ports';
import { createPrivateDir } from './private-dir';
import { writePrivateFile } from './tls';

export const TEMPORAL_SERVICES = ['frontend', 'history', 'matching', 'worker'] as const;
export type TemporalService = (typeof TEMPORAL_SERVICES)[number];

/** MinIO's distributed erasure set: node processes × drives each. */
export const MINIO_NODES = 4;
export const DRIVES_PER_NODE = 2;

export interface ServicePorts {
  grpc: number;
  membership: number;
  /** Prometheus metrics of this service process. */
  metrics: number;
}

export interface ClusterPorts {
  postgres: number;
  temporal: Record<TemporalService, ServicePorts>;
  frontendHttp: number;
  ui: number;
  /** One per node; node 0's `api` is the S3 endpoint clients use. */
  minio: { api: number; console: number }[];
  /** The second site, which the checkpoint bucket replicates to. */
  replica: { api: number; console: number };
}

export interface ClusterLayout {
  host: string;
  dir: string;
  ports: ClusterPorts;
  /** PostgreSQL's data folder; outside `dir` when the stack runs as root (postgres runs as `pgUser`). */
  pgDataDir: string;
  /** The system user postgres runs as (initdb refuses root); undefined: the current user. */
  pgUser?: string;
  /** Password of PostgreSQL's `temporal` role (0600 file, never on a command line). */
  secretsFile: string;
  temporalConfigDir: string;
  uiConfigDir: string;
  /** `minioDrives[node][drive]` */
  minioDrives: string[][];
  replicaDataDir: string;
  /** The replica site's `stateDir` for its users' credentials files. */
  replicaStateDir: string;
  logDir: string;
  runDir: string;
}

interface Saved {
  ports: ClusterPorts;
  pgDataDir: string;
  pgUser?: string;
}

export const clusterDir = (options: DurableFitOptions) => path.join(options.stateDir, 'cluster');
const layoutFile = (options: DurableFitOptions) => path.join(clusterDir(options), 'layout.json');

/** The layout saved by an earlier `up`, or undefined when the cluster was never brought up here. */
export function savedClusterLayout(options: DurableFitOptions): ClusterLayout | undefined {
  try {
    const saved = JSON.parse(fs.readFileSync(layoutFile(options), 'utf8')) as Saved;
    return expand(options, saved);
  } catch {
    return undefined;
  }
}

/** The saved layout, or a new one with free ports (written to `layout.json`). */
export async function clusterLayout(options: DurableFitOptions): Promise<ClusterLayout> {
  const existing = savedClusterLayout(options);
  if (existing) return existing;
  const { host, port: frontend } = splitHostPort(options.temporalAddress);
  const s3 = new URL(options.s3Endpoint);
  // postgres 1, three services' gRPC 3, metrics 4, frontend HTTP 1, other nodes, replica 2.
  const free = await freePorts(1 + 3 + 4 + 1 + (MINIO_NODES - 1) * 2 + 2, host);
  const next = () => free.shift() as number;
  const low = await freeLowPorts(TEMPORAL_SERVICES.length, host);
  const service = (grpc: number): ServicePorts => ({
    grpc,
    membership: low.shift() as number,
    metrics: next(),
  });
  const ports: ClusterPorts = {
    postgres: next(),
    temporal: {
      frontend: service(frontend),
      history: service(next()),
      matching: service(next()),
      worker: service(next()),
    },
    frontendHttp: next(),
    ui: options.temporalUiPort,
    minio: Array.from({ length: MINIO_NODES }, (_, i) =>
      i === 0
        ? { api: Number(s3.port || 80), console: options.s3ConsolePort }
        : { api: next(), console: next() },
    ),
    replica: { api: next(), console: next() },
  };
  const root = process.getuid?.() === 0;
  const saved: Saved = {
    ports,
    // initdb refuses root: as root, the data folder belongs to the `postgres` user the package makes,
    // outside the (0700, root's) state folder it could not enter.
    pgDataDir: root
      ? path.join('/var/lib/durable-fit', hashOf(options.stateDir), 'pgdata')
      : path.join(clusterDir(options), 'postgres'),
    ...(root ? { pgUser: 'postgres' } : {}),
  };
  createPrivateDir(clusterDir(options));
  writePrivateFile(layoutFile(options), `${JSON.stringify(saved, null, 2)}\n`);
  return expand(options, saved);
}

function expand(options: DurableFitOptions, saved: Saved): ClusterLayout {
  const dir = clusterDir(options);
  const { host } = splitHostPort(options.temporalAddress);
  return {
    host,
    dir,
    ports: saved.ports,
    pgDataDir: saved.pgDataDir,
    ...(saved.pgUser ? { pgUser: saved.pgUser } : {}),
    secretsFile: path.join(dir, 'secrets.json'),
    temporalConfigDir: path.join(dir, 'temporal', 'config'),
    uiConfigDir: path.join(dir, 'ui', 'config'),
    minioDrives: Array.from({ length: MINIO_NODES }, (_, n) =>
      Array.from({ length: DRIVES_PER_NODE }, (_, d) =>
        path.join(dir, 'minio', `node${n + 1}`, `drive${d + 1}`),
      ),
    ),
    replicaDataDir: path.join(dir, 'replica', 'data'),
    replicaStateDir: path.join(dir, 'replica'),
    logDir: path.join(dir, 'logs'),
    runDir: path.join(dir, 'run'),
  };
}

/** The cluster's one secret, PostgreSQL's password; made on the first `up`. */
export function clusterSecrets(layout: ClusterLayout): { pgPassword: string } {
  try {
    return JSON.parse(fs.readFileSync(layout.secretsFile, 'utf8')) as { pgPassword: string };
  } catch {
    const secrets = { pgPassword: crypto.randomBytes(18).toString('base64url') };
    writePrivateFile(layout.secretsFile, `${JSON.stringify(secrets)}\n`);
    return secrets;
  }
}

export const forgetClusterLayout = (options: DurableFitOptions) =>
  fs.rmSync(layoutFile(options), { force: true });

/**
 * Free ports below 32768: Temporal's SQL stores keep the membership port in a `smallint` column
 * (`cluster_membership.rpc_port`), and the OS hands out free ports above that.
 */
async function freeLowPorts(count: number, host: string): Promise<number[]> {
  const ports = new Set<number>();
  for (let tries = 0; ports.size < count && tries < 500; tries++) {
    const port = 20_000 + crypto.randomInt(12_000);
    if (await isPortFree(port, host)) ports.add(port);
  }
  if (ports.size < count) throw new Error(`no free ports between 20000 and 32000 on ${host}`);
  return [...ports];
}

const hashOf = (text: string) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 12);
