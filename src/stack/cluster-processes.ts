/**
 * The processes of the cluster topology by name, each with a pid file under `<cluster>/run/` so that
 * `stack down` stops exactly what `stack up` started; and the fault helpers the cluster test tier
 * uses (kill one node, restart one service) on the same records.
 */
import path from 'node:path';
import type { ClusterLayout, TemporalService } from './cluster-layout';
import { MINIO_NODES, TEMPORAL_SERVICES } from './cluster-layout';
import type { PidRecord } from './pid-file';
import { isAlive, isOurProcess, readPidFile, removePidFile, stopProcess, writePidFile } from './pid-file';
import { failOnEarlyExit, spawnServer } from './servers';

export type ClusterProcess =
  'postgres' | `temporal-${TemporalService}` | 'temporal-ui' | `minio-node${number}` | 'minio-replica';

export const minioNodeName = (node: number): ClusterProcess => `minio-node${node + 1}`;

/** Start order; `stack down` stops them in reverse (clients before the servers they use). */
export function clusterProcesses(): ClusterProcess[] {
  return [
    'postgres',
    ...TEMPORAL_SERVICES.map((s) => `temporal-${s}` as const),
    'temporal-ui',
    ...Array.from({ length: MINIO_NODES }, (_, n) => minioNodeName(n)),
    'minio-replica',
  ];
}

export const pidFileOf = (layout: ClusterLayout, name: ClusterProcess) =>
  path.join(layout.runDir, `${name}.json`);
export const logFileOf = (layout: ClusterLayout, name: ClusterProcess) =>
  path.join(layout.logDir, `${name}.log`);

/** The live record of `name`, or undefined (a stale pid file is removed). */
export function runningProcess(layout: ClusterLayout, name: ClusterProcess): PidRecord | undefined {
  const rec = readPidFile(pidFileOf(layout, name));
  if (!rec) return undefined;
  if (isOurProcess(rec)) return rec;
  removePidFile(pidFileOf(layout, name));
  return undefined;
}

/**
 * Starts `name` detached unless it runs; `runs` is the binary its pid will be (it differs from `bin`
 * when a launcher such as setpriv execs it). Returns a promise that rejects if it exits early.
 */
export function startProcess(
  layout: ClusterLayout,
  name: ClusterProcess,
  command: { bin: string; args: string[]; runs?: string; env?: NodeJS.ProcessEnv },
  log: (line: string) => void,
): Promise<never> | undefined {
  if (runningProcess(layout, name)) return undefined;
  const logFile = logFileOf(layout, name);
  const child = spawnServer(command.bin, command.args, logFile, { detached: true, env: command.env });
  if (child.pid === undefined) throw new Error(`could not start ${name} (${command.bin})`);
  writePidFile(pidFileOf(layout, name), {
    pid: child.pid,
    bin: command.runs ?? command.bin,
    args: command.args,
    startedAt: new Date().toISOString(),
  });
  log(`started ${name} (pid ${child.pid}), log ${logFile}`);
  return failOnEarlyExit(child, name, logFile);
}

/**
 * Stops `name`: SIGTERM (postgres: SIGINT, its fast shutdown, which does not wait for clients), then
 * SIGKILL after the grace. `signal` SIGKILL kills at once (a node lost); postgres's SIGQUIT is its
 * immediate shutdown, a crash it recovers from its WAL.
 */
export async function stopClusterProcess(
  layout: ClusterLayout,
  name: ClusterProcess,
  signal?: NodeJS.Signals,
): Promise<number | undefined> {
  const rec = runningProcess(layout, name);
  if (!rec) {
    removePidFile(pidFileOf(layout, name));
    return undefined;
  }
  const first = signal ?? (name === 'postgres' ? 'SIGINT' : undefined);
  if (first) {
    try {
      process.kill(rec.pid, first);
    } catch {
      /* already gone */
    }
    const deadline = Date.now() + 15_000;
    while (isAlive(rec.pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  if (isAlive(rec.pid)) await stopProcess(rec.pid);
  removePidFile(pidFileOf(layout, name));
  return rec.pid;
}
