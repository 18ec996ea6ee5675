/**
 * The environment a trainer child gets: an allow-list, not the worker's whole environment. The child
 * runs task code (user task modules included) and needs no credential: it never talks to S3 or
 * Temporal, so the S3 secret, signing and encryption keys stay in the worker process.
 */
import { redactSecrets } from './redact';

/** Variables passed by exact name: process basics, locale, temp folders, the loader. */
const NAMES = new Set([
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'LANGUAGE',
  'TZ',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LD_LIBRARY_PATH',
  'XLA_FLAGS',
  'NODE_OPTIONS',
  'NODE_PATH',
  'NODE_ENV',
]);

/**
 * Variables passed by prefix: TensorFlow, oneDNN/OpenMP/MKL threading, CUDA and the GPU runtime
 * (they change the bits or the device), tsx in a checkout, and durable-fit's own settings (tasks may
 * read theirs, e.g. a data folder, as `DFIT_*`).
 */
const PREFIXES = [
  'LC_',
  'TF_',
  'ONEDNN_',
  'DNNL_',
  'OMP_',
  'KMP_',
  'MKL_',
  'CUDA_',
  'NVIDIA_',
  'TSX_',
  'DFIT_',
];

/** Never passed, whatever the prefix: names that hold credentials. */
const SECRET_NAME = /KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH/i;

/** Whether a variable of this name may reach a trainer child (before the value check). */
export function isTrainerEnvName(name: string): boolean {
  if (SECRET_NAME.test(name)) return false;
  return NAMES.has(name) || PREFIXES.some((prefix) => name.startsWith(prefix));
}

/**
 * The allowed part of `env`, without any variable whose value holds one of `secrets` or a
 * credential-shaped assignment (a secret can hide under an innocent name, e.g. inside JSON).
 */
export function trainerEnvironment(
  env: NodeJS.ProcessEnv,
  secrets: readonly string[] = [],
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || !isTrainerEnvName(name)) continue;
    if (redactSecrets(value, secrets) !== value) continue;
    out[name] = value;
  }
  return out;
}
