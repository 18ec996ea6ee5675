/**
 * Starting the real servers: the Temporal dev server (with its Web UI) and MinIO. Used by
 * `durable-fit stack up` (detached, pid files) and by the test harness (children of the test run).
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import tls from 'node:tls';
import { Connection } from '@temporalio/client';
import { SEARCH_ATTRIBUTES } from '../contract';
import { createMinioObjectClient } from '../storage/minio-adapter';
import type { MinioConnection } from '../storage/minio-adapter';
import { ServerUnhealthyError } from './errors';
import { httpStatus, waitFor } from './ports';

export interface TemporalServerConfig {
  bin: string;
  /** The address clients dial. */
  host: string;
  /**
   * The address the server listens on (`--ip`) when it is not `host`. The dev server's own services
   * dial each other at 127.0.0.1 whatever `--ip` says, so a server reached at another address must
   * listen on '0.0.0.0' (test/fault/parallel-hosts.slow.test.ts does, alone in its network namespace).
   * @default host
   */
  bindIp?: string;
  port: number;
  uiPort: number;
  /** SQLite file that keeps workflow state across restarts. */
  dbFile: string;
  logFile: string;
  namespace: string;
  /** HTTP API and metrics ports; random free ones when unset. */
  httpPort?: number;
  metricsPort?: number;
  /** A codec server the Web UI decodes payloads through (`--ui-codec-endpoint`); none when unset. */
  codecEndpoint?: string;
}

export interface MinioServerConfig {
  bin: string;
  host: string;
  port: number;
  consolePort: number;
  dataDir: string;
  logFile: string;
  accessKey: string;
  secretKey: string;
  /**
   * Incomplete multipart uploads older than this are deleted with their parts (a killed writer's
   * leftovers; MinIO ignores the S3 lifecycle rule for them, minio/minio#19115). MinIO duration syntax.
   * @default '2h' (no checkpoint upload takes that long)
   */
  staleUploadsExpiry?: string;
  /** How often MinIO looks for stale uploads. @default '10m' */
  staleUploadsCleanupInterval?: string;
  /**
   * MinIO's `--certs-dir` (`public.crt`, `private.key`, `CAs/`; src/stack/tls.ts): MinIO then serves
   * only TLS on `port`. @default undefined (plain HTTP)
   */
  certsDir?: string;
}

const SA_TYPE_NAMES: Record<string, string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  DOUBLE: 'Double',
  TEXT: 'Text',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** Command line for `temporal server start-dev`, with the project's search attributes registered. */
export function temporalArgs(config: TemporalServerConfig): string[] {
  const args = ['server', 'start-dev', '--ip', config.bindIp ?? config.host, '--port', String(config.port)];
  args.push('--ui-port', String(config.uiPort), '--db-filename', config.dbFile, '--log-level', 'warn');
  if (config.namespace !== 'default') args.push('--namespace', config.namespace);
  if (config.httpPort) args.push('--http-port', String(config.httpPort));
  if (config.metricsPort) args.push('--metrics-port', String(config.metricsPort));
  if (config.codecEndpoint) args.push('--ui-codec-endpoint', config.codecEndpoint);
  for (const key of SEARCH_ATTRIBUTES)
    args.push('--search-attribute', `${key.name}=${SA_TYPE_NAMES[key.type]}`);
  for (const [key, value] of Object.entries(DEAD_WORKER_CONFIG))
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  return args;
}

/**
 * The frontend pings a connection after 1 s without a frame and closes it when 2 s more pass without
 * an answer (defaults: 1 min and 10 s). A worker whose network is black-holed (no reset, no bytes)
 * keeps long polls open at the server, and the server would hand them the run's workflow tasks, each
 * lost until the workflow task timeout; closing the dead connection within 3 s of its last frame
 * cancels those polls. An attempt's heartbeat timeout fires at least (timeout − 1 s heartbeat
 * throttle) after the cut, so with a heartbeat timeout over 4 s the workflow task it makes goes to a
 * live worker (fault matrix: temporal-black-holed-before-first-checkpoint). Ending long polls sooner
 * (matching.longPollExpirationInterval) would do it too, but costs the server CPU for every live
 * poller (1 s: a third of a core for two idle workers, measured). Production servers: docs/recovery.md.
 */
export const DEAD_WORKER_CONFIG = { 'frontend.keepAliveTime': '1s', 'frontend.keepAliveTimeout': '2s' };

export function minioArgs(config: MinioServerConfig): string[] {
  return [
    'server',
    config.dataDir,
    '--address',
    `${config.host}:${config.port}`,
    '--console-address',
    `${config.host}:${config.consolePort}`,
    ...(config.certsDir ? ['--certs-dir', config.certsDir] : []),
    '--quiet',
  ];
}

/** `https://host:port` when MinIO serves TLS, else `http://host:port`. */
export function minioEndpoint(config: MinioServerConfig): string {
  return `${config.certsDir ? 'https' : 'http'}://${config.host}:${config.port}`;
}

export function minioEnv(config: MinioServerConfig): NodeJS.ProcessEnv {
  return {
    ...process.env,
    MINIO_ROOT_USER: config.accessKey,
    MINIO_ROOT_PASSWORD: config.secretKey,
    MINIO_BROWSER_REDIRECT: 'off',
    MINIO_UPDATE: 'off',
    MINIO_API_STALE_UPLOADS_EXPIRY: config.staleUploadsExpiry ?? '2h',
    MINIO_API_STALE_UPLOADS_CLEANUP_INTERVAL: config.staleUploadsCleanupInterval ?? '10m',
  };
}

/** Spawns a server with its output appended to `logFile`. Detached servers outlive this process. */
export function spawnServer(
  bin: string,
  args: string[],
  logFile: string,
  options: { env?: NodeJS.ProcessEnv; detached: boolean },
): ChildProcess {
  const log = fs.openSync(logFile, 'a');
  fs.writeSync(log, `\n--- ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
  const child = spawn(bin, args, {
    env: options.env ?? process.env,
    stdio: ['ignore', log, log],
    detached: options.detached,
  });
  fs.closeSync(log);
  if (options.detached) child.unref();
  return child;
}

/** Waits until the frontend answers gRPC health checks and the Web UI answers HTTP 200. */
export async function waitTemporalHealthy(config: TemporalServerConfig, timeoutMs = 60_000): Promise<void> {
  const address = `${config.host}:${config.port}`;
  const grpc = await waitFor(async () => {
    const connection = await Connection.connect({ address, connectTimeout: 1000 });
    try {
      await connection.workflowService.describeNamespace({ namespace: config.namespace });
      return true;
    } finally {
      await connection.close();
    }
  }, timeoutMs);
  if (!grpc.ok) throw new ServerUnhealthyError(`Temporal at ${address}`, config.logFile, grpc.detail);
  const ui = await waitFor(
    async () => (await httpStatus(`http://${config.host}:${config.uiPort}/`)) === 200,
    timeoutMs,
  );
  if (!ui.ok)
    throw new ServerUnhealthyError(`Temporal Web UI on port ${config.uiPort}`, config.logFile, ui.detail);
}

/** Waits for MinIO's liveness endpoint, then creates the bucket if it is missing. */
export async function waitMinioHealthy(
  config: MinioServerConfig,
  connection: MinioConnection,
  timeoutMs = 60_000,
): Promise<void> {
  const live = `${minioEndpoint(config)}/minio/health/live`;
  const ready = await waitFor(async () => (await liveStatus(live, connection.ca)) === 200, timeoutMs);
  if (!ready.ok)
    throw new ServerUnhealthyError(`MinIO at ${config.host}:${config.port}`, config.logFile, ready.detail);
  const objects = createMinioObjectClient(connection);
  const bucket = await waitFor(async () => {
    if (!(await objects.bucketExists())) await objects.makeBucket();
    return true;
  }, 15_000);
  if (!bucket.ok)
    throw new ServerUnhealthyError(`MinIO bucket "${connection.bucket}"`, config.logFile, bucket.detail);
}

/** HTTP status of a GET; over TLS it trusts `ca` (the stack's local CA) as well as the system's. */
function liveStatus(url: string, ca: string | undefined): Promise<number> {
  if (!url.startsWith('https:')) return httpStatus(url);
  return new Promise((resolve, reject) => {
    const request = https.get(
      url,
      { ca: ca ? [...tls.rootCertificates, ca] : undefined, timeout: 2000 },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url} within 2 s`)));
    request.on('error', reject);
  });
}

/** Rejects when a just-started server exits before it became healthy (race it against the health wait). */
export function failOnEarlyExit(child: ChildProcess, server: string, logFile: string): Promise<never> {
  return new Promise((_, reject) => {
    child.once('exit', (code, signal) => {
      reject(
        new ServerUnhealthyError(server, logFile, `the process exited early (${signal ?? `code ${code}`})`),
      );
    });
  });
}
