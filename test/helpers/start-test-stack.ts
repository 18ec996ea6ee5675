/**
 * Starts an isolated Temporal dev server and MinIO on free ports with temporary data folders.
 * `npm test` starts one for the whole run; fault tests that restart or stop servers start their own.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULTS } from '../../src/config/options';
import { freePorts } from '../../src/stack/ports';
import type { MinioServerConfig, TemporalServerConfig } from '../../src/stack/servers';
import {
  failOnEarlyExit,
  minioArgs,
  minioEnv,
  spawnServer,
  temporalArgs,
  waitMinioHealthy,
  waitTemporalHealthy,
} from '../../src/stack/servers';
import { ensureTool } from '../../src/stack/tools';
import { MINIO_SERVER, TEMPORAL_CLI } from '../../src/stack/versions';
import type { TestStack } from './stack-env';

export interface RunningTestStack {
  stack: TestStack;
  dir: string;
  temporal: TemporalServerConfig;
  minio: MinioServerConfig;
  /** Kill and start the Temporal server again on the same ports and database file. */
  restartTemporal(): Promise<void>;
  stopMinio(): Promise<void>;
  startMinio(): Promise<void>;
  /** SIGSTOP / SIGCONT MinIO: a hung store (connections accepted, nothing answered). */
  pauseMinio(): void;
  continueMinio(): void;
  /** Stops both servers and deletes the temporary folder. */
  stop(): Promise<void>;
}

export interface TestStackOptions {
  /** The address both servers listen on and clients reach them at. @default '127.0.0.1' */
  host?: string;
  /** What Temporal listens on, when not `host` (src/stack/servers.ts: `bindIp`). @default host */
  temporalBindIp?: string;
  /**
   * A command the servers run under, e.g. `['ip', 'netns', 'exec', ns]` (it must exec the server so
   * that signals reach it). @default [] (started directly)
   */
  launcher?: string[];
}

/** Attempts at picking ports: a free port can be taken by another process before a server binds it. */
const PORT_ATTEMPTS = 4;

export async function startTestStack(
  toolsDir: string,
  log = (l: string) => console.error(l),
  options: TestStackOptions = {},
): Promise<RunningTestStack> {
  const temporalBin = await ensureTool(TEMPORAL_CLI, { toolsDir, progress: log });
  const minioBin = await ensureTool(MINIO_SERVER, { toolsDir, progress: log });
  for (let attempt = 1; ; attempt++) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-test-'));
    const stack = await configure(dir, temporalBin, minioBin, options);
    try {
      await stack.start();
      return stack.running;
    } catch (err) {
      const clash = /address already in use/.test(readLogs(stack.running));
      // Never leave a server behind: a live child would keep the test process from exiting.
      await stack.halt();
      if (!clash || attempt >= PORT_ATTEMPTS) throw err; // the logs it names stay for reading
      fs.rmSync(dir, { recursive: true, force: true });
      log(`test stack: a port was taken before its server bound it; retrying with new ports (${attempt})`);
    }
  }
}

function readLogs(running: RunningTestStack): string {
  return [running.temporal.logFile, running.minio.logFile]
    .map((file) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''))
    .join('\n');
}

async function configure(dir: string, temporalBin: string, minioBin: string, options: TestStackOptions) {
  const host = options.host ?? '127.0.0.1';
  const spawnLaunched = (bin: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv) => {
    const command = [...(options.launcher ?? []), bin, ...args];
    return spawnServer(command[0] as string, command.slice(1), logFile, { detached: false, env });
  };
  const [port, uiPort, httpPort, metricsPort, s3Port, consolePort] = (await freePorts(6)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const temporal: TemporalServerConfig = {
    bin: temporalBin,
    host,
    bindIp: options.temporalBindIp,
    port,
    uiPort,
    httpPort,
    metricsPort,
    namespace: 'default',
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
  };
  const minio: MinioServerConfig = {
    bin: minioBin,
    host,
    port: s3Port,
    consolePort,
    dataDir: path.join(dir, 'minio'),
    logFile: path.join(dir, 'minio.log'),
    accessKey: `dfit-test-ak-${process.pid}`,
    secretKey: 'test-secret-' + process.pid,
  };
  const s3 = {
    endpoint: `http://${host}:${s3Port}`,
    accessKey: minio.accessKey,
    secretKey: minio.secretKey,
    region: DEFAULTS.s3Region,
    bucket: DEFAULTS.bucket,
  };
  const children: { temporal?: ChildProcess; minio?: ChildProcess } = {};
  const startTemporal = async () => {
    children.temporal = spawnLaunched(temporalBin, temporalArgs(temporal), temporal.logFile);
    await Promise.race([
      waitTemporalHealthy(temporal),
      failOnEarlyExit(children.temporal, 'Temporal', temporal.logFile),
    ]);
  };
  const startMinio = async () => {
    children.minio = spawnLaunched(minioBin, minioArgs(minio), minio.logFile, minioEnv(minio));
    await Promise.race([
      waitMinioHealthy(minio, s3),
      failOnEarlyExit(children.minio, 'MinIO', minio.logFile),
    ]);
  };
  const kill = async (child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };
  const running: RunningTestStack = {
    stack: {
      temporalAddress: `${host}:${port}`,
      namespace: 'default',
      uiUrl: `http://${host}:${uiPort}`,
      s3,
      temporalBin,
      minioBin,
    },
    dir,
    temporal,
    minio,
    async restartTemporal() {
      await kill(children.temporal, 'SIGKILL');
      await startTemporal();
    },
    stopMinio: () => kill(children.minio, 'SIGKILL'),
    startMinio,
    pauseMinio: () => void children.minio?.kill('SIGSTOP'),
    continueMinio: () => void children.minio?.kill('SIGCONT'),
    async stop() {
      await halt();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  const halt = async () => {
    children.minio?.kill('SIGCONT'); // a stopped MinIO would not see the SIGTERM
    await Promise.all([kill(children.temporal), kill(children.minio)]);
  };
  return { running, halt, start: () => Promise.all([startTemporal(), startMinio()]) };
}
