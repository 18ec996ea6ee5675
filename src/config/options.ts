/**
 * The one place where durable-fit's settings get their defaults.
 *
 * Entry points (CLI, worker, test harness) call `resolveOptions(process.env, flags)` once and pass the
 * result down; library code never reads the environment itself.
 */
import os from 'node:os';
import path from 'node:path';
import { parseByteSize } from './byte-size';
import { parseDurationMs } from './duration';
import { DEFAULT_DEADLINE } from '../storage/deadline';

/**
 * The largest checkpoint a store downloads (checkpoint/size-limit.ts): 2 GiB, four times a 500 MB
 * checkpoint (`mnist-mlp` with `hidden: 32768` and Adam is ~300 MB).
 */
export const DEFAULT_MAX_CHECKPOINT_BYTES = 2 * 1024 ** 3;

/** Environment variable that raises (or lowers) the limit on workers and the CLI. */
export const MAX_CHECKPOINT_BYTES_ENV = 'DFIT_MAX_CHECKPOINT_BYTES';

/** Every setting durable-fit reads, after defaults, environment and flags are applied. */
export interface DurableFitOptions {
  /** Temporal frontend address. Env `TEMPORAL_ADDRESS`. @default '127.0.0.1:7233' */
  temporalAddress: string;
  /** Temporal namespace. Env `TEMPORAL_NAMESPACE`. @default 'default' */
  namespace: string;
  /** Port of the local dev server's Web UI. Env `DFIT_TEMPORAL_UI_PORT`. @default 8233 */
  temporalUiPort: number;
  /** Base URL of the Temporal Web UI, for links. Env `DFIT_TEMPORAL_UI_URL`. @default `http://127.0.0.1:<temporalUiPort>` */
  uiUrl: string;
  /** Task queue that training workers poll. Env `DFIT_TASK_QUEUE`. @default 'durable-fit' */
  taskQueue: string;
  /** S3 / MinIO endpoint URL. Env `DFIT_S3_ENDPOINT`. @default 'http://127.0.0.1:9000' */
  s3Endpoint: string;
  /** Port of the local MinIO console. Env `DFIT_S3_CONSOLE_PORT`. @default 9001 */
  s3ConsolePort: number;
  /** Bucket that holds checkpoints. Env `DFIT_S3_BUCKET`. @default 'durable-fit' */
  bucket: string;
  /** S3 region. Env `DFIT_S3_REGION`. @default 'us-east-1' */
  s3Region: string;
  /**
   * S3 access key. Env `DFIT_S3_ACCESS_KEY` (or `AWS_ACCESS_KEY_ID`). @default '' (none: then
   * `s3CredentialsFile`, else the local stack's file for the role; see src/config/s3-credentials.ts)
   */
  s3AccessKey: string;
  /** S3 secret key; never leaves the worker process. Env `DFIT_S3_SECRET_KEY` (or `AWS_SECRET_ACCESS_KEY`). @default '' */
  s3SecretKey: string;
  /** JSON file `{"accessKey","secretKey"}` used when the keys are not in the environment. Env `DFIT_S3_CREDENTIALS_FILE`. @default '' (the local stack's `<stateDir>/credentials/<role>.json` when it exists) */
  s3CredentialsFile: string;
  /** CA certificate (PEM file) to trust for an `https://` S3 endpoint, besides the system's. Env `DFIT_S3_CA_FILE`. @default '' (the stack's CA after `stack up --tls`, else system CAs only) */
  s3CaFile: string;
  /** Root user of the local stack's MinIO (`stack up` only: it creates the workers' users with it). Env `DFIT_S3_ROOT_USER`. @default 'durable-fit' */
  s3RootUser: string;
  /** Root password of the local stack's MinIO; workers never get it. Env `DFIT_S3_ROOT_PASSWORD`. @default 'durable-fit-dev-secret' */
  s3RootPassword: string;
  /**
   * Checkpoint signing key, `<keyId>:<secret>` (a secret of at least 32 characters, e.g. from
   * `openssl rand -hex 32`): stores sign every checkpoint they write and refuse to load one that is not
   * validly signed (README: Signed checkpoints). Secret: masked by `redactOptions`, never in workflow
   * input. Env `DFIT_CKPT_SIGNING_KEY`. @default undefined (checkpoints are not signed)
   */
  ckptSigningKey?: string;
  /**
   * Checkpoint signing keys file, for rotation: JSON `{ "sign": "<keyId>", "keys": { "<keyId>": "<secret>" } }`;
   * `sign` signs new checkpoints, every key verifies. Env `DFIT_CKPT_SIGNING_KEYS_FILE`. @default undefined
   */
  ckptSigningKeysFile?: string;
  /**
   * With a signing key, still load checkpoints that carry no signature at all (while a fleet moves to
   * signing); badly signed ones are refused regardless. Env `DFIT_CKPT_ACCEPT_UNSIGNED` (1/0). @default false
   */
  ckptAcceptUnsigned?: boolean;
  /** Where `stack up` keeps its databases, logs and pid files. Env `DFIT_STATE_DIR`. @default '~/.local/share/durable-fit' */
  stateDir: string;
  /** Where the built server binaries are cached, keyed by version. Env `DFIT_TOOLS_DIR`. @default '~/.cache/durable-fit/bin' */
  toolsDir: string;
  /** tfjs backend: auto | tensorflow-gpu | tensorflow | wasm | cpu. Env `DFIT_BACKEND`. @default 'auto' */
  backend: string;
  /**
   * Modules that register user tasks (`registerTask`), loaded by workers, their trainer processes and
   * the CLI. Env `DFIT_TASK_MODULES`, comma-separated paths. @default []
   */
  taskModules: string[];
  /**
   * A trainer child that uses no CPU time and sends nothing for this long while it has work is
   * killed, and the run resumes from its last checkpoint (the activity heartbeats on a timer, so the
   * server alone would never notice). Env `DFIT_TRAINER_HANG_TIMEOUT`, a Temporal-style duration
   * (`90s`, `2m`) or milliseconds. @default 60000 (60 s)
   */
  trainerHangTimeoutMs: number;
  /**
   * Deadline of every S3 call, before the time allowed per MiB it moves (`s3DeadlinePerMiBMs`): a
   * call past it closes its connection and fails as an infrastructure failure, so a hung store never
   * stalls a run (README: The recovery story). Env `DFIT_S3_DEADLINE`, a duration (`20s`, `1m`) or
   * milliseconds. @default 20000 (20 s)
   */
  s3DeadlineMs: number;
  /** Time added to an S3 call's deadline per MiB it sends or receives. Env `DFIT_S3_DEADLINE_PER_MIB`. @default 1000 (1 s: slower than 1 MiB/s counts as hung) */
  s3DeadlinePerMiBMs: number;
  /**
   * Largest checkpoint a worker or the CLI downloads; a larger `resumeFrom` (or any other checkpoint)
   * is refused before download. Env `DFIT_MAX_CHECKPOINT_BYTES`: bytes, or e.g. `500MB`, `4GiB`.
   * @default 2147483648 (2 GiB)
   */
  maxCheckpointBytes: number;
  /**
   * Memory limit of each trainer child of a worker: the child runs in a memory cgroup of its own
   * with this limit, and one the kernel kills for passing it is a crashed trainer (the run resumes
   * from its newest checkpoint). A worker with no writable memory cgroup refuses to start with it.
   * Env `DFIT_TRAINER_MEMORY_LIMIT`: bytes, or e.g. `1GiB`, `800MB`. @default undefined (no limit)
   */
  trainerMemoryLimitBytes?: number;
  /**
   * Port of the worker's Prometheus endpoint (`/metrics`: the Temporal SDK's `temporal_*` series and
   * durable-fit's `dfit_*` ones). Env `DFIT_METRICS_PORT`. @default undefined (no endpoint, nothing recorded)
   */
  metricsPort?: number;
  /** Address the metrics endpoint binds to; `0.0.0.0` exposes it to the network. Env `DFIT_METRICS_HOST`. @default '127.0.0.1' */
  metricsHost: string;
  /**
   * Payload encryption keys file: JSON or `id=base64key` lines, the current (encrypting) key first.
   * Setting it turns AES-256-GCM encryption of workflow payloads on (README: Security). Env
   * `DFIT_ENCRYPTION_KEYS_FILE`. @default undefined (payloads in clear text)
   */
  encryptionKeysFile?: string;
  /**
   * The same keys inline, `id1:base64,id2:base64`, when there is no file; secret (masked by
   * `redactOptions`). Env `DFIT_ENCRYPTION_KEYS`. @default undefined
   */
  encryptionKeys?: string;
}

/** Environment variable name for each option, for error messages and docs. */
export const OPTION_ENV: Readonly<Record<keyof DurableFitOptions, string>> = {
  temporalAddress: 'TEMPORAL_ADDRESS',
  namespace: 'TEMPORAL_NAMESPACE',
  temporalUiPort: 'DFIT_TEMPORAL_UI_PORT',
  uiUrl: 'DFIT_TEMPORAL_UI_URL',
  taskQueue: 'DFIT_TASK_QUEUE',
  s3Endpoint: 'DFIT_S3_ENDPOINT',
  s3ConsolePort: 'DFIT_S3_CONSOLE_PORT',
  bucket: 'DFIT_S3_BUCKET',
  s3Region: 'DFIT_S3_REGION',
  s3AccessKey: 'DFIT_S3_ACCESS_KEY',
  s3SecretKey: 'DFIT_S3_SECRET_KEY',
  s3CredentialsFile: 'DFIT_S3_CREDENTIALS_FILE',
  s3CaFile: 'DFIT_S3_CA_FILE',
  s3RootUser: 'DFIT_S3_ROOT_USER',
  s3RootPassword: 'DFIT_S3_ROOT_PASSWORD',
  ckptSigningKey: 'DFIT_CKPT_SIGNING_KEY',
  ckptSigningKeysFile: 'DFIT_CKPT_SIGNING_KEYS_FILE',
  ckptAcceptUnsigned: 'DFIT_CKPT_ACCEPT_UNSIGNED',
  stateDir: 'DFIT_STATE_DIR',
  toolsDir: 'DFIT_TOOLS_DIR',
  backend: 'DFIT_BACKEND',
  taskModules: 'DFIT_TASK_MODULES',
  trainerHangTimeoutMs: 'DFIT_TRAINER_HANG_TIMEOUT',
  s3DeadlineMs: 'DFIT_S3_DEADLINE',
  s3DeadlinePerMiBMs: 'DFIT_S3_DEADLINE_PER_MIB',
  maxCheckpointBytes: MAX_CHECKPOINT_BYTES_ENV,
  trainerMemoryLimitBytes: 'DFIT_TRAINER_MEMORY_LIMIT',
  metricsPort: 'DFIT_METRICS_PORT',
  metricsHost: 'DFIT_METRICS_HOST',
  encryptionKeysFile: 'DFIT_ENCRYPTION_KEYS_FILE',
  encryptionKeys: 'DFIT_ENCRYPTION_KEYS',
};

/** Defaults shared by the code, the docs and docker-compose.yml. */
export const DEFAULTS = {
  temporalAddress: '127.0.0.1:7233',
  namespace: 'default',
  temporalUiPort: 8233,
  taskQueue: 'durable-fit',
  s3Endpoint: 'http://127.0.0.1:9000',
  s3ConsolePort: 9001,
  bucket: 'durable-fit',
  s3Region: 'us-east-1',
  /** The local stack's MinIO root user (no longer a client default: workers get their own user). */
  s3AccessKey: 'durable-fit',
  /** The local stack's MinIO root password (no longer a client default). */
  s3SecretKey: 'durable-fit-dev-secret',
  backend: 'auto',
  trainerHangTimeoutMs: 60_000,
  s3DeadlineMs: DEFAULT_DEADLINE.baseMs,
  s3DeadlinePerMiBMs: DEFAULT_DEADLINE.perMiBMs,
  maxCheckpointBytes: DEFAULT_MAX_CHECKPOINT_BYTES,
  metricsHost: '127.0.0.1',
} as const;

export type Env = Readonly<Record<string, string | undefined>>;

/** Applies defaults, then the environment, then explicit overrides (CLI flags). */
export function resolveOptions(env: Env = {}, overrides: Partial<DurableFitOptions> = {}): DurableFitOptions {
  const pick = (key: keyof DurableFitOptions, ...fallbacks: string[]): string | undefined => {
    for (const name of [OPTION_ENV[key], ...fallbacks]) {
      const value = env[name];
      if (value !== undefined && value !== '') return value;
    }
    return undefined;
  };
  const temporalUiPort = overrides.temporalUiPort ?? parsePort(pick('temporalUiPort'), 'temporalUiPort');
  const metricsPort = parsePort(pick('metricsPort'), 'metricsPort');
  const trainerMemoryLimitBytes = parseBytes(pick('trainerMemoryLimitBytes'), 'trainerMemoryLimitBytes');
  const resolved: DurableFitOptions = {
    temporalAddress: pick('temporalAddress') ?? DEFAULTS.temporalAddress,
    namespace: pick('namespace') ?? DEFAULTS.namespace,
    temporalUiPort: temporalUiPort ?? DEFAULTS.temporalUiPort,
    uiUrl: pick('uiUrl') ?? `http://127.0.0.1:${temporalUiPort ?? DEFAULTS.temporalUiPort}`,
    taskQueue: pick('taskQueue') ?? DEFAULTS.taskQueue,
    s3Endpoint: pick('s3Endpoint') ?? DEFAULTS.s3Endpoint,
    s3ConsolePort: parsePort(pick('s3ConsolePort'), 's3ConsolePort') ?? DEFAULTS.s3ConsolePort,
    bucket: pick('bucket') ?? DEFAULTS.bucket,
    s3Region: pick('s3Region') ?? DEFAULTS.s3Region,
    s3AccessKey: pick('s3AccessKey', 'AWS_ACCESS_KEY_ID') ?? '',
    s3SecretKey: pick('s3SecretKey', 'AWS_SECRET_ACCESS_KEY') ?? '',
    s3CredentialsFile: pick('s3CredentialsFile') ?? '',
    s3CaFile: pick('s3CaFile') ?? '',
    s3RootUser: pick('s3RootUser') ?? DEFAULTS.s3AccessKey,
    s3RootPassword: pick('s3RootPassword') ?? DEFAULTS.s3SecretKey,
    ...signingOptions(pick('ckptSigningKey'), pick('ckptSigningKeysFile'), pick('ckptAcceptUnsigned')),
    stateDir: pick('stateDir') ?? path.join(dataHome(env), 'durable-fit'),
    toolsDir: pick('toolsDir') ?? path.join(cacheHome(env), 'durable-fit', 'bin'),
    backend: pick('backend') ?? DEFAULTS.backend,
    taskModules: (pick('taskModules') ?? '')
      .split(',')
      .map((file) => file.trim())
      .filter(Boolean)
      .map((file) => path.resolve(file)),
    trainerHangTimeoutMs:
      parseDuration(pick('trainerHangTimeoutMs'), 'trainerHangTimeoutMs') ?? DEFAULTS.trainerHangTimeoutMs,
    s3DeadlineMs: parseDuration(pick('s3DeadlineMs'), 's3DeadlineMs') ?? DEFAULTS.s3DeadlineMs,
    s3DeadlinePerMiBMs:
      parseDuration(pick('s3DeadlinePerMiBMs'), 's3DeadlinePerMiBMs') ?? DEFAULTS.s3DeadlinePerMiBMs,
    maxCheckpointBytes:
      parseBytes(pick('maxCheckpointBytes'), 'maxCheckpointBytes') ?? DEFAULTS.maxCheckpointBytes,
    ...(trainerMemoryLimitBytes === undefined ? {} : { trainerMemoryLimitBytes }),
    ...(metricsPort === undefined ? {} : { metricsPort }),
    metricsHost: pick('metricsHost') ?? DEFAULTS.metricsHost,
    ...encryptionOptions(pick('encryptionKeysFile'), pick('encryptionKeys')),
  };
  const merged = { ...resolved, ...definedOnly(overrides) };
  if (overrides.temporalUiPort !== undefined && overrides.uiUrl === undefined && !pick('uiUrl')) {
    merged.uiUrl = `http://127.0.0.1:${overrides.temporalUiPort}`;
  }
  return merged;
}

/** A copy that is safe to print or log: the secret key is masked. */
export function redactOptions(options: DurableFitOptions): DurableFitOptions {
  return {
    ...options,
    s3SecretKey: '***',
    s3RootPassword: '***',
    ...(options.ckptSigningKey ? { ckptSigningKey: '***' } : {}),
    ...(options.encryptionKeys ? { encryptionKeys: '***' } : {}),
  };
}

/**
 * The secret values among the options: exactly those `redactOptions` masks. Workers keep them out of
 * their trainer children's environment and mask them in what the children print.
 */
export function secretValues(options: DurableFitOptions): string[] {
  const masked = redactOptions(options) as unknown as Record<string, unknown>;
  const raw = options as unknown as Record<string, unknown>;
  return Object.keys(raw).flatMap((key) => {
    const value = raw[key];
    return typeof value === 'string' && value !== '' && masked[key] !== value ? [value] : [];
  });
}

/** Splits `host:port` (Temporal address) into its parts. */
export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^(.*):(\d+)$/.exec(address);
  if (!match) throw new Error(`address "${address}" is not host:port; set ${OPTION_ENV.temporalAddress}`);
  return { host: match[1] ?? '', port: Number(match[2]) };
}

function signingOptions(
  key: string | undefined,
  file: string | undefined,
  acceptUnsigned: string | undefined,
) {
  const accept = acceptUnsigned === undefined ? undefined : /^(1|true|yes)$/i.test(acceptUnsigned);
  if (acceptUnsigned !== undefined && !accept && !/^(0|false|no)$/i.test(acceptUnsigned))
    throw new Error(`${OPTION_ENV.ckptAcceptUnsigned}="${acceptUnsigned}" is not 1 or 0`);
  return {
    ...(key ? { ckptSigningKey: key } : {}),
    ...(file ? { ckptSigningKeysFile: path.resolve(file) } : {}),
    ...(accept !== undefined ? { ckptAcceptUnsigned: accept } : {}),
  };
}

function parsePort(value: string | undefined, key: keyof DurableFitOptions): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${OPTION_ENV[key]}="${value}" is not a port number (1-65535)`);
  }
  return port;
}

/** A Temporal-style duration (`90s`, `2m`, `1.5h`) or plain milliseconds, as a positive number of ms. */
function parseDuration(value: string | undefined, key: keyof DurableFitOptions): number | undefined {
  if (value === undefined) return undefined;
  const millis = parseDurationMs(value, 'ms');
  if (millis === undefined || millis <= 0) {
    throw new Error(`${OPTION_ENV[key]}="${value}" is not a duration: use e.g. "90s", "2m" or milliseconds`);
  }
  return millis;
}

function encryptionOptions(file: string | undefined, inline: string | undefined) {
  return {
    ...(file ? { encryptionKeysFile: path.resolve(file) } : {}),
    ...(inline ? { encryptionKeys: inline } : {}),
  };
}

function parseBytes(value: string | undefined, key: keyof DurableFitOptions): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseByteSize(value);
  if (bytes === undefined)
    throw new Error(`${OPTION_ENV[key]}="${value}" is not a size: use bytes or e.g. "500MB", "4GiB"`);
  return bytes;
}

function definedOnly<T extends object>(value: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function dataHome(env: Env): string {
  return env.XDG_DATA_HOME || path.join(env.HOME || os.homedir(), '.local', 'share');
}

function cacheHome(env: Env): string {
  return env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
}
