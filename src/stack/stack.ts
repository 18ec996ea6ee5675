/** `durable-fit stack up | down | status | reset`: the local Temporal dev server and MinIO. */
import fs from 'node:fs';
import path from 'node:path';
import type { DurableFitOptions } from '../config/options';
import { splitHostPort } from '../config/options';
import { s3Connection } from '../checkpoint/create-store';
import { PortInUseError } from './errors';
import { isOurProcess, readPidFile, removePidFile, stopProcess, writePidFile } from './pid-file';
import { isPortFree } from './ports';
import type { MinioServerConfig, TemporalServerConfig } from './servers';
import {
  failOnEarlyExit,
  minioArgs,
  minioEnv,
  spawnServer,
  temporalArgs,
  waitMinioHealthy,
  waitTemporalHealthy,
} from './servers';
import { ensureTool, toolPath } from './tools';
import { MINIO_SERVER, TEMPORAL_CLI } from './versions';

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
  /** True when both servers are running. */
  running: boolean;
  servers: Record<'temporal' | 'minio', { running: boolean; pid?: number; logFile: string }>;
}

type Log = (line: string) => void;

interface Layout {
  temporal: TemporalServerConfig;
  minio: MinioServerConfig;
  pidFile: Record<'temporal' | 'minio', string>;
}

/** Where `stack up` puts each thing, under `options.stateDir`. */
export function stackLayout(options: DurableFitOptions): Layout {
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
      accessKey: options.s3AccessKey,
      secretKey: options.s3SecretKey,
    },
    pidFile: { temporal: path.join(dir, 'run', 'temporal.json'), minio: path.join(dir, 'run', 'minio.json') },
  };
}

/** Builds the servers when needed, starts what is not running, and waits until both are healthy. */
export async function stackUp(options: DurableFitOptions, log: Log): Promise<StackStatus> {
  const layout = stackLayout(options);
  await ensureTool(TEMPORAL_CLI, { toolsDir: options.toolsDir, progress: log });
  await ensureTool(MINIO_SERVER, { toolsDir: options.toolsDir, progress: log });
  for (const dir of [path.dirname(layout.temporal.logFile), layout.minio.dataDir])
    fs.mkdirSync(dir, { recursive: true });

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
    waitMinioHealthy(layout.minio, connectionOf(options)),
  ]);
  await Promise.race([healthy, ...earlyExits]);
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
  const layout = stackLayout(options);
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
    s3Endpoint: options.s3Endpoint,
    s3ConsoleUrl: `http://${layout.minio.host}:${layout.minio.consolePort}`,
    bucket: options.bucket,
    taskQueue: options.taskQueue,
    temporalBin: layout.temporal.bin,
    minioBin: layout.minio.bin,
    stateDir: options.stateDir,
    running: servers.temporal.running && servers.minio.running,
    servers,
  };
}

/** The S3 connection of the local stack. */
export const connectionOf = (options: DurableFitOptions) => s3Connection(options);

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
