/** `durable-fit stack up | down | status | reset`: the local Temporal dev server and MinIO. */
import fs from 'node:fs';
import path from 'node:path';
import type { DurableFitOptions } from '../config/options';
import { splitHostPort } from '../config/options';
import { stackCredentialsFile } from '../config/s3-credentials';
import type { MinioConnection } from '../storage/minio-adapter';
import { PortInUseError } from './errors';
import { isOurProcess, readPidFile, removePidFile, stopProcess, writePidFile } from './pid-file';
import { isPortFree } from './ports';
import type { MinioServerConfig, TemporalServerConfig } from './servers';
import {
  failOnEarlyExit,
  minioArgs,
  minioEndpoint,
  minioEnv,
  spawnServer,
  temporalArgs,
  waitMinioHealthy,
  waitTemporalHealthy,
} from './servers';
import { ensureTool, toolPath } from './tools';
import { ensureStackTls, makePrivateDir, stackTlsFiles } from './tls';
import { ensureStackUsers } from './users';
import { MINIO_CLIENT, MINIO_SERVER, TEMPORAL_CLI } from './versions';

export interface StackStatus {
  temporalAddress: string;
  namespace: string;
  uiUrl: string;
  s3Endpoint: string;
  s3ConsoleUrl: string;
  bucket: string;
  taskQueue: string;
  temporalBin: string;
  minioBin: string;
  stateDir: string;
  /** MinIO serves TLS only (`stack up --tls`); clients trust `s3CaFile`. */
  tls: boolean;
  /** The local CA that signed MinIO's certificate, when `tls`. */
  s3CaFile?: string;
  /** Credentials files of the workers' and the CLI's read-only MinIO users (0600). */
  credentials: Record<'worker' | 'reader', string>;
  /** True when both servers are running. */
  running: boolean;
  servers: Record<'temporal' | 'minio', { running: boolean; pid?: number; logFile: string }>;
}

type Log = (line: string) => void;

export interface StackUpOptions {
  /** MinIO serves TLS with a certificate from a local CA the stack makes (src/stack/tls.ts). @default false */
  tls?: boolean;
  /**
   * Codec server the Web UI decodes encrypted payloads through (`--ui-codec-endpoint`; README:
   * Security). Takes effect when the Temporal dev server starts. @default none
   */
  codecEndpoint?: string;
}

interface Layout {
  temporal: TemporalServerConfig;
  minio: MinioServerConfig;
  pidFile: Record<'temporal' | 'minio', string>;
}

/** Where `stack up` puts each thing, under `options.stateDir`; MinIO's certs folder only with `tls`. */
export function stackLayout(options: DurableFitOptions, tls = false): Layout {
  const dir = options.stateDir;
  const { host, port } = splitHostPort(options.temporalAddress);
  const s3 = new URL(options.s3Endpoint);
  return {
    temporal: {
      bin: toolPath(TEMPORAL_CLI, options.toolsDir),
      host,
      port,
      uiPort: options.temporalUiPort,
      dbFile: path.join(dir, 'temporal.db'),
      logFile: path.join(dir, 'logs', 'temporal.log'),
      namespace: options.namespace,
    },
    minio: {
      bin: toolPath(MINIO_SERVER, options.toolsDir),
      host: s3.hostname,
      port: Number(s3.port || 80),
      consolePort: options.s3ConsolePort,
      dataDir: path.join(dir, 'minio-data'),
      logFile: path.join(dir, 'logs', 'minio.log'),
      accessKey: options.s3RootUser,
      secretKey: options.s3RootPassword,
      ...(tls ? { certsDir: stackTlsFiles(tlsDir(options)).certsDir } : {}),
    },
    pidFile: { temporal: path.join(dir, 'run', 'temporal.json'), minio: path.join(dir, 'run', 'minio.json') },
  };
}

/** Builds the servers when needed, starts what is not running, and waits until both are healthy. */
export async function stackUp(
  options: DurableFitOptions,
  log: Log,
  up: StackUpOptions = {},
): Promise<StackStatus> {
  const running = stackStatus(options);
  if (running.servers.minio.running && running.tls !== Boolean(up.tls)) {
    throw new Error(
      `MinIO already runs ${running.tls ? 'with' : 'without'} TLS: run \`durable-fit stack down\` first, ` +
        `then \`stack up${up.tls ? ' --tls' : ''}\``,
    );
  }
  const layout = stackLayout(options, up.tls);
  if (up.codecEndpoint) layout.temporal.codecEndpoint = up.codecEndpoint;
  warnCodecEndpointUnchanged(layout, up.codecEndpoint, log);
  await ensureTool(TEMPORAL_CLI, { toolsDir: options.toolsDir, progress: log });
  await ensureTool(MINIO_SERVER, { toolsDir: options.toolsDir, progress: log });
  const mcBin = await ensureTool(MINIO_CLIENT, { toolsDir: options.toolsDir, progress: log });
  makePrivateDir(options.stateDir);
  for (const dir of [path.dirname(layout.temporal.logFile), layout.minio.dataDir]) makePrivateDir(dir);
  const tls = up.tls ? ensureStackTls(tlsDir(options), [layout.minio.host]) : undefined;

  const earlyExits: Promise<never>[] = [];
  if (!isRunning(layout.pidFile.temporal, log, 'temporal')) {
    await assertFree(layout.temporal.port, 'Temporal gRPC', '--address / TEMPORAL_ADDRESS');
    await assertFree(layout.temporal.uiPort, 'Temporal Web UI', '--ui-port / DFIT_TEMPORAL_UI_PORT');
    const args = temporalArgs(layout.temporal);
    const child = spawnServer(layout.temporal.bin, args, layout.temporal.logFile, { detached: true });
    writePidFile(layout.pidFile.temporal, record(child.pid, layout.temporal.bin, args));
    earlyExits.push(failOnEarlyExit(child, 'Temporal dev server', layout.temporal.logFile));
    log(`started Temporal dev server (pid ${child.pid}), data ${layout.temporal.dbFile}`);
  }
  if (!isRunning(layout.pidFile.minio, log, 'minio')) {
    await assertFree(layout.minio.port, 'MinIO S3 API', '--s3-endpoint / DFIT_S3_ENDPOINT');
    await assertFree(layout.minio.consolePort, 'MinIO console', '--s3-console-port / DFIT_S3_CONSOLE_PORT');
    const args = minioArgs(layout.minio);
    const child = spawnServer(layout.minio.bin, args, layout.minio.logFile, {
      detached: true,
      env: minioEnv(layout.minio),
    });
    writePidFile(layout.pidFile.minio, record(child.pid, layout.minio.bin, args));
    earlyExits.push(failOnEarlyExit(child, 'MinIO', layout.minio.logFile));
    log(`started MinIO (pid ${child.pid}), data ${layout.minio.dataDir}`);
  }
  const healthy = Promise.all([
    waitTemporalHealthy(layout.temporal),
    waitMinioHealthy(layout.minio, rootConnection(options, layout)),
  ]);
  await Promise.race([healthy, ...earlyExits]);
  const admin = {
    mcBin,
    endpoint: minioEndpoint(layout.minio),
    rootUser: options.s3RootUser,
    rootPassword: options.s3RootPassword,
    ...(tls ? { caFile: tls.caFile } : {}),
  };
  for (const user of await ensureStackUsers(admin, options.bucket, options.stateDir))
    log(`MinIO user ${user.accessKey} (${user.policy}): credentials in ${user.file}`);
  return stackStatus(options);
}

/** Stops exactly the processes recorded in our pid files. Data folders are kept. */
export async function stackDown(options: DurableFitOptions, log: Log): Promise<void> {
  const layout = stackLayout(options);
  for (const name of ['temporal', 'minio'] as const) {
    const file = layout.pidFile[name];
    const rec = readPidFile(file);
    if (rec && isOurProcess(rec)) {
      await stopProcess(rec.pid);
      log(`stopped ${name} (pid ${rec.pid})`);
    } else if (rec) {
      log(`${name} was not running (removed stale pid file ${file})`);
    }
    removePidFile(file);
  }
}

/** Deletes the stack's data (Temporal database, MinIO objects, logs). Only when it is down. */
export async function stackReset(options: DurableFitOptions, log: Log): Promise<void> {
  const status = stackStatus(options);
  if (status.servers.temporal.running || status.servers.minio.running) {
    throw new Error('the stack is running: run `durable-fit stack down` before `stack reset --yes`');
  }
  const layout = stackLayout(options);
  for (const target of [
    layout.temporal.dbFile,
    layout.minio.dataDir,
    path.dirname(layout.temporal.logFile),
  ]) {
    fs.rmSync(target, { recursive: true, force: true });
    log(`deleted ${target}`);
  }
}

export function stackStatus(options: DurableFitOptions): StackStatus {
  const tls = readPidFile(stackLayout(options).pidFile.minio)?.args.includes('--certs-dir') ?? false;
  const layout = stackLayout(options, tls);
  const server = (name: 'temporal' | 'minio', logFile: string) => {
    const rec = readPidFile(layout.pidFile[name]);
    const running = rec !== undefined && isOurProcess(rec);
    return running ? { running, pid: rec.pid, logFile } : { running, logFile };
  };
  const servers = {
    temporal: server('temporal', layout.temporal.logFile),
    minio: server('minio', layout.minio.logFile),
  };
  return {
    temporalAddress: options.temporalAddress,
    namespace: options.namespace,
    uiUrl: options.uiUrl,
    s3Endpoint: minioEndpoint(layout.minio),
    s3ConsoleUrl: `${tls ? 'https' : 'http'}://${layout.minio.host}:${layout.minio.consolePort}`,
    bucket: options.bucket,
    taskQueue: options.taskQueue,
    temporalBin: layout.temporal.bin,
    minioBin: layout.minio.bin,
    stateDir: options.stateDir,
    tls,
    ...(tls ? { s3CaFile: stackTlsFiles(tlsDir(options)).caFile } : {}),
    credentials: {
      worker: stackCredentialsFile(options.stateDir, 'worker'),
      reader: stackCredentialsFile(options.stateDir, 'reader'),
    },
    running: servers.temporal.running && servers.minio.running,
    servers,
  };
}

/** The local stack's MinIO as its root user (only `stack up` uses it: to make the bucket and users). */
function rootConnection(options: DurableFitOptions, layout: Layout): MinioConnection {
  const certsDir = layout.minio.certsDir;
  return {
    endpoint: minioEndpoint(layout.minio),
    accessKey: options.s3RootUser,
    secretKey: options.s3RootPassword,
    region: options.s3Region,
    bucket: options.bucket,
    ...(certsDir ? { ca: fs.readFileSync(stackTlsFiles(tlsDir(options)).caFile, 'utf8') } : {}),
  };
}

const tlsDir = (options: DurableFitOptions) => path.join(options.stateDir, 'tls');

/** A running dev server keeps the codec endpoint it started with: say so instead of ignoring the flag. */
function warnCodecEndpointUnchanged(layout: Layout, wanted: string | undefined, log: Log): void {
  const rec = readPidFile(layout.pidFile.temporal);
  if (!rec || !isOurProcess(rec)) return;
  const at = rec.args.indexOf('--ui-codec-endpoint');
  const current = at >= 0 ? rec.args[at + 1] : undefined;
  if (wanted !== undefined && wanted !== current)
    log(
      `the Temporal dev server already runs with ${current ? `codec endpoint ${current}` : 'no codec endpoint'}: ` +
        `run \`durable-fit stack down\` first, then \`stack up --codec-endpoint ${wanted}\``,
    );
}

function isRunning(pidFile: string, log: Log, name: string): boolean {
  const rec = readPidFile(pidFile);
  if (!rec) return false;
  if (isOurProcess(rec)) return true;
  removePidFile(pidFile);
  log(`found a stale pid file for ${name} (pid ${rec.pid} is gone); cleaned it up`);
  return false;
}

async function assertFree(port: number, what: string, howToChange: string): Promise<void> {
  if (!(await isPortFree(port))) throw new PortInUseError(port, what, howToChange);
}

function record(pid: number | undefined, bin: string, args: string[]) {
  if (pid === undefined) throw new Error(`could not start ${bin}`);
  return { pid, bin, args, startedAt: new Date().toISOString() };
}
