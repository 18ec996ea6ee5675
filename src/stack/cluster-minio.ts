/**
 * MinIO of the cluster topology: a distributed erasure set of MINIO_NODES node processes with
 * DRIVES_PER_NODE drives each on loopback ports (every node is given the same list of all drives and
 * serves those whose port is its own), and a second site, one process, that the checkpoint bucket
 * replicates to with MinIO's bucket replication, configured with the pinned `mc`.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ObjectClient } from '../storage/object-client';
import type { ClusterLayout } from './cluster-layout';
import type { MinioServerConfig } from './servers';

const run = promisify(execFile);

/** Noncurrent versions (what retention deleted, kept by versioning for replication) expire after this. */
export const NONCURRENT_EXPIRY_DAYS = 1;

/** `http://host:port/drive` for every drive of every node: the same list for each node process. */
export function erasureSetEndpoints(layout: ClusterLayout): string[] {
  return layout.minioDrives.flatMap((drives, node) =>
    drives.map((drive) => `http://${layout.host}:${layout.ports.minio[node]?.api}${drive}`),
  );
}

/** A node (or the replica, `node` = 'replica') as the dev stack's server config, for env and health. */
export function minioNodeConfig(
  layout: ClusterLayout,
  node: number | 'replica',
  bin: string,
  root: { accessKey: string; secretKey: string },
): MinioServerConfig {
  const ports = node === 'replica' ? layout.ports.replica : layout.ports.minio[node];
  if (!ports) throw new Error(`no MinIO node ${node} in this cluster layout`);
  return {
    bin,
    host: layout.host,
    port: ports.api,
    consolePort: ports.console,
    dataDir: node === 'replica' ? layout.replicaDataDir : path.dirname(layout.minioDrives[node]?.[0] ?? ''),
    logFile: path.join(layout.logDir, node === 'replica' ? 'minio-replica.log' : `minio-node${node + 1}.log`),
    ...root,
  };
}

export function minioNodeArgs(
  layout: ClusterLayout,
  config: MinioServerConfig,
  node: number | 'replica',
): string[] {
  const drives = node === 'replica' ? [config.dataDir] : erasureSetEndpoints(layout);
  return [
    'server',
    ...drives,
    '--address',
    `${config.host}:${config.port}`,
    '--console-address',
    `${config.host}:${config.consolePort}`,
    '--quiet',
  ];
}

export interface SiteAdmin {
  mcBin: string;
  primary: string;
  replica: string;
  rootUser: string;
  rootPassword: string;
}

/**
 * Versioning on both buckets (replication needs it), the replication rule (existing objects,
 * deletes and delete markers), and the lifecycle rule that expires noncurrent versions. Idempotent.
 */
export async function configureReplication(admin: SiteAdmin, bucket: string, log: (line: string) => void) {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-mc-'));
  const mc = (...args: string[]) => runMc(admin, configDir, args);
  try {
    await mc('mb', '--ignore-existing', `replica/${bucket}`);
    for (const site of ['primary', 'replica']) {
      await mc('version', 'enable', `${site}/${bucket}`);
      const rules = await mc('ilm', 'rule', 'ls', `${site}/${bucket}`, '--json').catch(() => '');
      if (!/NoncurrentVersionExpiration/i.test(rules))
        await mc(
          'ilm',
          'rule',
          'add',
          `${site}/${bucket}`,
          '--noncurrent-expire-days',
          String(NONCURRENT_EXPIRY_DAYS),
        );
    }
    const existing = await mc('replicate', 'ls', `primary/${bucket}`, '--json').catch(() => '');
    if (!/"Status"\s*:\s*"Enabled"/i.test(existing)) {
      await mc(
        'replicate',
        'add',
        `primary/${bucket}`,
        '--remote-bucket',
        `replica/${bucket}`,
        '--replicate',
        'existing-objects,delete,delete-marker',
        '--priority',
        '1',
      );
      log(`bucket ${bucket} replicates to the second site (${admin.replica})`);
    }
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

/**
 * Heals the checkpoint bucket's objects on the primary's erasure set now (`mc admin heal --recursive`)
 * instead of waiting for MinIO's background scanner: after a drive was replaced or wiped.
 */
export async function healBucket(admin: SiteAdmin, bucket: string): Promise<string> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-mc-'));
  try {
    return await runMc(admin, configDir, ['admin', 'heal', '--recursive', '--json', `primary/${bucket}`]);
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

export interface ReplicationLag {
  /** Objects on the primary that the replica does not have yet (same key and size). */
  pending: number;
  /** Age of the oldest of them, in seconds; 0 when the replica has everything. */
  lagSeconds: number;
  primaryObjects: number;
  replicaObjects: number;
}

/** Compares the two sites' listings of the bucket (latest versions). */
export async function replicationLag(
  primary: ObjectClient,
  replica: ObjectClient,
  now = Date.now(),
): Promise<ReplicationLag> {
  const [onPrimary, onReplica] = await Promise.all([
    primary.list('', { recursive: true }),
    replica.list('', { recursive: true }),
  ]);
  const there = new Map(onReplica.map((o) => [o.key, o.size]));
  const pending = onPrimary.filter((o) => there.get(o.key) !== o.size);
  const oldest = Math.min(...pending.map((o) => o.lastModified.getTime()));
  return {
    pending: pending.length,
    lagSeconds: pending.length ? Math.max(0, Math.round((now - oldest) / 100) / 10) : 0,
    primaryObjects: onPrimary.length,
    replicaObjects: onReplica.length,
  };
}

async function runMc(admin: SiteAdmin, configDir: string, args: string[]): Promise<string> {
  const alias = (endpoint: string) => {
    const url = new URL(endpoint);
    url.username = encodeURIComponent(admin.rootUser);
    url.password = encodeURIComponent(admin.rootPassword);
    return url.toString().replace(/\/$/, '');
  };
  try {
    const { stdout } = await run(admin.mcBin, ['--config-dir', configDir, '--no-color', ...args], {
      // Aliases from the environment: the root password never appears in a process listing.
      env: { ...process.env, MC_HOST_primary: alias(admin.primary), MC_HOST_replica: alias(admin.replica) },
      timeout: 60_000,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `mc ${args.slice(0, 3).join(' ')} failed: ${(`${e.stdout ?? ''}${e.stderr ?? ''}` || e.message).trim().slice(-500)}`,
    );
  }
}
