// No Docker engine runs on our machines, so this checks docker-compose.yml, the Dockerfile and
// .dockerignore for their safe shape: ports on loopback only, credentials only from `.env` (documented
// in .env.example, none in the compose file), the worker with its own MinIO user and never the root
// one, a non-root image, and no local state, cache or secret in the build context.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { test } from 'node:test';
import { parse } from 'yaml';
import { DEFAULTS, OPTION_ENV } from '../../src/config/options';
import { splitHostPort } from '../../src/config/options';
import { SEARCH_ATTRIBUTES } from '../../src/contract';

interface Service {
  profiles?: string[];
  ports?: string[];
  environment?: Record<string, string>;
  command?: string[] | string;
  entrypoint?: string[];
}
const text = fs.readFileSync('docker-compose.yml', 'utf8');
const compose = parse(text, { merge: true }) as { services: Record<string, Service> };
const { services } = compose;
/** Keys a user may leave empty: the protection they turn on is then off (README: Security). */
const OPTIONAL_KEYS: string[] = [OPTION_ENV.encryptionKeys, OPTION_ENV.ckptSigningKey];
const CREDENTIAL_VARS = [
  OPTION_ENV.s3RootUser,
  OPTION_ENV.s3RootPassword,
  OPTION_ENV.s3AccessKey,
  OPTION_ENV.s3SecretKey,
];

/** The variables of `.env.example`, as compose would read a copy of it. */
function readEnvExample(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of fs.readFileSync('.env.example', 'utf8').split('\n')) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match) out[match[1] as string] = match[2] as string;
  }
  return out;
}

/** Compose's `${VAR:-default}` and `${VAR:?error}` interpolation, enough to check the file's shape. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_, name: string, op?: string, arg?: string) => {
    const set = env[name];
    if (set) return set;
    if (op === '?') throw new Error(`required variable ${name} is missing a value: ${arg}`);
    return op === '-' ? (arg ?? '') : '';
  });
}

test('compose has Temporal, MinIO, bucket creation and a worker', () => {
  for (const name of ['temporal', 'minio', 'create-bucket', 'worker'])
    assert.ok(services[name], `service ${name}`);
});

test('ports match the code defaults and are published on 127.0.0.1 only', () => {
  const temporalPort = splitHostPort(DEFAULTS.temporalAddress).port;
  assert.deepEqual(services.temporal?.ports, [
    `127.0.0.1:${temporalPort}:${temporalPort}`,
    `127.0.0.1:${DEFAULTS.temporalUiPort}:${DEFAULTS.temporalUiPort}`,
  ]);
  const s3Port = new URL(DEFAULTS.s3Endpoint).port;
  assert.deepEqual(services.minio?.ports, [
    `127.0.0.1:${s3Port}:${s3Port}`,
    `127.0.0.1:${DEFAULTS.s3ConsolePort}:${DEFAULTS.s3ConsolePort}`,
  ]);
  for (const [name, service] of Object.entries(services)) {
    for (const port of service.ports ?? []) assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port}`);
  }
});

test('every credential comes from .env: none is written in the file and each one is required', () => {
  assert.ok(!text.includes(DEFAULTS.s3SecretKey), 'the code default secret is not in the compose file');
  const example = readEnvExample();
  for (const name of CREDENTIAL_VARS) {
    assert.ok(name in example, `.env.example documents ${name}`);
    assert.ok(text.includes(`\${${name}:?`), `${name} is required (\${${name}:?…}), with no default`);
  }
  // Interpolated from an empty environment, every credential is refused, naming the variable.
  for (const [name, service] of Object.entries(services)) {
    for (const [key, value] of Object.entries(service.environment ?? {})) {
      if (!/KEY|SECRET|PASSWORD|USER/.test(key)) continue;
      // The cluster profile's PostgreSQL: a role name, and a password generated into a volume.
      if (key === 'POSTGRES_USER') {
        assert.equal(value, 'temporal', `${name}.${key} is the role name, not a secret`);
        continue;
      }
      if (key === 'POSTGRES_PASSWORD_FILE') {
        assert.equal(value, '/run/pg-secret/password', `${name}.${key} reads the generated secret`);
        continue;
      }
      if (OPTIONAL_KEYS.includes(key)) {
        assert.equal(interpolate(value, {}), '', `${name}.${key} is optional and off while unset`);
        continue;
      }
      assert.throws(() => interpolate(value, {}), /required variable DFIT_S3_/, `${name}.${key}`);
    }
  }
});

test('.env.example holds no secret value and .env stays out of git and the image', () => {
  const example = readEnvExample();
  for (const name of [OPTION_ENV.s3RootPassword, OPTION_ENV.s3SecretKey])
    assert.equal(example[name], '', `${name} is left empty, so compose refuses to start until it is set`);
  assert.notEqual(example[OPTION_ENV.s3RootUser], example[OPTION_ENV.s3AccessKey], 'root and worker differ');
  assert.match(fs.readFileSync('.gitignore', 'utf8'), /^\.env$/m);
});

test('MinIO root credentials go to MinIO and the bucket job only; the worker gets its own user', () => {
  const env = (name: string) => services[name]?.environment ?? {};
  const filled = {
    ...readEnvExample(),
    [OPTION_ENV.s3RootPassword]: 'root-pw',
    [OPTION_ENV.s3SecretKey]: 'w-pw',
  };
  const resolve = (name: string, key: string) => interpolate(env(name)[key] ?? '', filled);
  assert.equal(resolve('minio', 'MINIO_ROOT_PASSWORD'), 'root-pw');
  assert.equal(resolve('create-bucket', 'MINIO_ROOT_PASSWORD'), 'root-pw');
  assert.equal(resolve('create-bucket', 'WORKER_SECRET_KEY'), 'w-pw');
  assert.equal(resolve('worker', OPTION_ENV.s3SecretKey), 'w-pw');
  assert.equal(resolve('worker', OPTION_ENV.s3AccessKey), filled[OPTION_ENV.s3AccessKey]);
  const workerEnv = JSON.stringify(env('worker'));
  assert.ok(!workerEnv.includes('ROOT'), `the worker never sees the root account: ${workerEnv}`);
  // The bucket job reads credentials in the container's shell ($$), never from its command line,
  // and gives the worker's user a policy limited to the checkpoint bucket's objects.
  const script = JSON.stringify(services['create-bucket']?.entrypoint);
  assert.match(script, /\$\$MINIO_ROOT_PASSWORD/);
  assert.match(script, /mc admin user add local \\"\$\$WORKER_ACCESS_KEY\\" \\"\$\$WORKER_SECRET_KEY\\"/);
  assert.match(script, new RegExp(`arn:aws:s3:::${DEFAULTS.bucket}/\\*`));
  assert.doesNotMatch(script, /s3:\*|"Resource":\["\*"\]/, 'no wildcard action or resource');
});

test('the worker is configured through the documented environment variables', () => {
  const env = services.worker?.environment ?? {};
  const known = new Set(Object.values(OPTION_ENV));
  for (const name of Object.keys(env)) assert.ok(known.has(name), `${name} is an option the code reads`);
  assert.equal(env[OPTION_ENV.taskQueue], DEFAULTS.taskQueue);
  assert.equal(env[OPTION_ENV.bucket], DEFAULTS.bucket);
});

test('the worker image runs as a non-root user', () => {
  const lines = fs
    .readFileSync('Dockerfile', 'utf8')
    .split('\n')
    .filter((l) => /^[A-Z]+\s/.test(l));
  const users = lines.filter((l) => l.startsWith('USER '));
  assert.ok(users.length > 0, 'the Dockerfile sets USER');
  const last = users.at(-1)?.split(/\s+/)[1] ?? '';
  assert.ok(!['root', '0', '0:0'].includes(last), `runs as ${last}`);
  const cmd = lines.findIndex((l) => l.startsWith('CMD '));
  assert.ok(lines.indexOf(users.at(-1) as string) < cmd, 'USER comes before CMD');
});

test('.dockerignore keeps local state, caches, build outputs, test results and .env files out', () => {
  const rules = fs
    .readFileSync('.dockerignore', 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  for (const entry of [
    '.git',
    'node_modules',
    'dist',
    'test-artifacts',
    '.tools',
    '.durable-fit',
    '.env',
    '.env.*',
  ])
    assert.ok(rules.includes(entry), `.dockerignore lists ${entry}`);
  assert.ok(rules.includes('!.env.example'), 'the documented example stays in');
});

test('Temporal registers every search attribute the workflow uses, with a persistent database', () => {
  const command = services.temporal?.command as string[];
  for (const key of SEARCH_ATTRIBUTES)
    assert.ok(
      command.some((arg) => arg.startsWith(`${key.name}=`)),
      key.name,
    );
  assert.ok(command.includes('--db-filename'));
  assert.match(JSON.stringify(services['create-bucket']), new RegExp(`local/${DEFAULTS.bucket}`));
});

test('profile cluster: Temporal services on PostgreSQL, a 4 x 2 MinIO erasure set, a replica site, replication', () => {
  const cluster = Object.entries(services).filter(([, s]) => s.profiles?.includes('cluster'));
  const names = cluster.map(([name]) => name);
  for (const name of ['temporal', 'minio', 'create-bucket', 'worker'])
    assert.ok(!services[name]?.profiles, `${name} stays in the default stack`);
  for (const service of ['frontend', 'history', 'matching', 'worker']) {
    const s = services[`temporal-${service}`];
    assert.ok(s, `temporal-${service}`);
    assert.equal(s.environment?.SERVICES, service, 'one Temporal service per container');
    assert.equal(s.environment?.DB, 'postgres12');
    assert.equal(s.environment?.POSTGRES_SEEDS, 'postgresql');
    assert.match(
      JSON.stringify(s.entrypoint),
      /POSTGRES_PWD=.*\/run\/pg-secret\/password/,
      'password from the volume',
    );
  }
  assert.match(JSON.stringify(services['temporal-schema']?.entrypoint), /update-schema --schema-name/);
  const register = JSON.stringify(services['temporal-register']?.entrypoint);
  for (const key of SEARCH_ATTRIBUTES) assert.ok(register.includes(`${key.name}=`), `registers ${key.name}`);
  const nodes = names.filter((n) => /^minio\d$/.test(n));
  assert.deepEqual(nodes, ['minio1', 'minio2', 'minio3', 'minio4']);
  for (const node of nodes) {
    assert.match(
      String(services[node]?.command),
      /http:\/\/minio\{1\.\.\.4\}\/data\{1\.\.\.2\}/,
      `${node}: the whole set`,
    );
    assert.equal((services[node] as { volumes?: string[] }).volumes?.length, 2, `${node}: two drives`);
  }
  assert.equal(services.minio1?.environment?.MINIO_API_STALE_UPLOADS_EXPIRY, '2h', 'the stale-upload expiry');
  const setup = JSON.stringify(services['setup-cluster-buckets']?.entrypoint);
  assert.match(setup, /mc version enable/);
  assert.match(setup, /mc replicate add primary\/durable-fit[^"]*--remote-bucket replica\/durable-fit/);
  assert.match(setup, /--noncurrent-expire-days/);
  assert.match(
    setup,
    /mc admin user add \$\$site \\"\$\$WORKER_ACCESS_KEY\\"/,
    'the worker user on both sites',
  );
  assert.ok(
    !JSON.stringify(services['worker-cluster']?.environment).includes('ROOT'),
    'no root key for the worker',
  );
  // Side by side with the default stack: no host port in common.
  const published = (list: [string, Service][]) =>
    list.flatMap(([, s]) => (s.ports ?? []).map((p) => p.split(':').slice(0, 2).join(':')));
  const defaults = published(Object.entries(services).filter(([, s]) => !s.profiles));
  for (const port of published(cluster))
    assert.ok(!defaults.includes(port), `${port} is the default stack's`);
});
