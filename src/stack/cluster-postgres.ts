/**
 * PostgreSQL for the cluster topology, from Debian's `postgresql` package: the stack initialises its
 * own data folder, runs it on a loopback port (TCP only, no socket file), and creates and migrates
 * Temporal's two databases with the pinned SQL tool, whose schemas are embedded in it. As root it runs
 * postgres as the package's `postgres` user (initdb refuses root), through `setpriv`, which execs.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FailureKind } from '../failure-kind';
import type { ClusterLayout } from './cluster-layout';
import { waitFor } from './ports';

const run = promisify(execFile);

/** Debian's install command; `stack build --topology cluster` runs it as root when postgres is missing. */
export const POSTGRES_APT_INSTALL =
  'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql';

export class PostgresMissingError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'PostgresMissingError';
  constructor() {
    super(
      'The cluster topology runs PostgreSQL from the `postgresql` package, and no postgres binary was found ' +
        'under /usr/lib/postgresql/*/bin. Install it (`sudo apt-get install -y postgresql`, or run ' +
        '`durable-fit stack build --topology cluster` as root, which does), then `stack up --topology cluster` again.',
    );
  }
}

/** The newest installed server's bin folder (`/usr/lib/postgresql/<major>/bin`), or undefined. */
export function findPostgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const majors = fs
    .readdirSync(root)
    .filter((v) => /^\d+$/.test(v) && fs.existsSync(path.join(root, v, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors[0] ? path.join(root, majors[0], 'bin') : undefined;
}

/** Installs the package when missing and we may (root with apt-get); returns the bin folder. */
export function ensurePostgresInstalled(log: (line: string) => void): string {
  const found = findPostgresBin();
  if (found) return found;
  const canInstall = process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v apt-get']).status === 0;
  if (!canInstall) throw new PostgresMissingError();
  log(`installing PostgreSQL: ${POSTGRES_APT_INSTALL}`);
  spawnSync('sh', ['-c', POSTGRES_APT_INSTALL], { stdio: ['ignore', 'inherit', 'inherit'] });
  const installed = findPostgresBin();
  if (!installed) throw new PostgresMissingError();
  return installed;
}

/** The command that starts the postmaster (as `pgUser` when set) and the binary its pid runs. */
export function postgresCommand(
  layout: ClusterLayout,
  pgBin: string,
): { bin: string; args: string[]; runs: string } {
  const postgres = path.join(pgBin, 'postgres');
  const args = [
    '-D',
    layout.pgDataDir,
    '-c',
    `listen_addresses=${layout.host}`,
    '-c',
    `port=${layout.ports.postgres}`,
    '-c',
    'unix_socket_directories=',
    '-c',
    'max_connections=200',
  ];
  return { ...asUser(layout, postgres, args), runs: postgres };
}

/** initdb on the first `up`: superuser `temporal` with the stack's password, scram auth on TCP. */
export async function initPostgres(layout: ClusterLayout, pgBin: string, password: string): Promise<boolean> {
  if (fs.existsSync(path.join(layout.pgDataDir, 'PG_VERSION'))) return false;
  const owner = layout.pgUser ? userIds(layout.pgUser) : undefined;
  const parent = path.dirname(layout.pgDataDir);
  fs.mkdirSync(parent, { recursive: true, mode: 0o711 }); // postgres may enter, not list
  fs.mkdirSync(layout.pgDataDir, { recursive: true, mode: 0o700 });
  const pwFile = path.join(layout.pgDataDir, '..', `.pw-${process.pid}`);
  fs.writeFileSync(pwFile, `${password}\n`, { mode: 0o600 });
  if (owner) {
    fs.chownSync(layout.pgDataDir, owner.uid, owner.gid);
    fs.chownSync(pwFile, owner.uid, owner.gid);
  }
  try {
    const initdb = asUser(layout, path.join(pgBin, 'initdb'), [
      '-D',
      layout.pgDataDir,
      '-U',
      'temporal',
      `--pwfile=${pwFile}`,
      '--auth=scram-sha-256',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    await run(initdb.bin, initdb.args, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`initdb of ${layout.pgDataDir} failed: ${(e.stderr ?? e.message).trim().slice(-400)}`);
  } finally {
    fs.rmSync(pwFile, { force: true });
  }
  // initdb lets TCP clients in from loopback only; the stack's own address may be another one (a
  // bridge address that hosts in other network namespaces reach): it connects from there.
  if (!/^127\./.test(layout.host))
    fs.appendFileSync(
      path.join(layout.pgDataDir, 'pg_hba.conf'),
      `host all all ${layout.host}/32 scram-sha-256\n`,
    );
  return true;
}

/** Waits until postgres accepts connections on its port. */
export async function waitPostgresReady(layout: ClusterLayout, pgBin: string, timeoutMs = 60_000) {
  const isReady = path.join(pgBin, 'pg_isready');
  return waitFor(async () => {
    const r = spawnSync(isReady, ['-h', layout.host, '-p', String(layout.ports.postgres), '-t', '2']);
    return r.status === 0;
  }, timeoutMs);
}

/**
 * Creates Temporal's databases when missing and migrates both schemas to the newest version the
 * pinned SQL tool embeds (the same step upgrades them after a server version bump).
 */
export async function migrateTemporalDatabases(
  layout: ClusterLayout,
  sqlTool: string,
  password: string,
  log: (line: string) => void,
): Promise<void> {
  const env = {
    ...process.env,
    SQL_PLUGIN: 'postgres12',
    SQL_HOST: layout.host,
    SQL_PORT: String(layout.ports.postgres),
    SQL_USER: 'temporal',
    SQL_PASSWORD: password, // in the environment: no process listing shows it
  };
  const sql = async (database: string, args: string[]) => {
    try {
      return (await run(sqlTool, ['--db', database, ...args], { env, timeout: 120_000 })).stdout;
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      const out = `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message;
      if (/already exists/i.test(out)) return out;
      throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed: ${out.trim().slice(-500)}`);
    }
  };
  for (const [database, schema] of [
    ['temporal', 'postgresql/v12/temporal'],
    ['temporal_visibility', 'postgresql/v12/visibility'],
  ] as const) {
    const marker = path.join(layout.dir, `.schema-${database}`);
    if (!fs.existsSync(marker)) {
      await sql(database, ['create-database', '--defaultdb', 'postgres']);
      await sql(database, ['setup-schema', '-v', '0.0']);
      fs.writeFileSync(marker, `${new Date().toISOString()}\n`);
    }
    await sql(database, ['update-schema', '--schema-name', schema]);
    log(`PostgreSQL database ${database}: schema ${schema} up to date`);
  }
}

function asUser(layout: ClusterLayout, bin: string, args: string[]): { bin: string; args: string[] } {
  if (!layout.pgUser) return { bin, args };
  return {
    bin: 'setpriv',
    args: [`--reuid=${layout.pgUser}`, `--regid=${layout.pgUser}`, '--init-groups', bin, ...args],
  };
}

function userIds(user: string): { uid: number; gid: number } {
  const id = (flag: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  if (!Number.isInteger(uid) || uid <= 0)
    throw new Error(
      `the system user "${user}" that runs the cluster's PostgreSQL is missing; ` +
        'install the postgresql package (it creates it) and try again',
    );
  return { uid, gid };
}
