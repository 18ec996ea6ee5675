/**
 * Which S3 credentials a process uses, and the error when it has none. In order: the environment
 * (`DFIT_S3_ACCESS_KEY`/`DFIT_S3_SECRET_KEY` or the AWS names), a credentials file
 * (`DFIT_S3_CREDENTIALS_FILE`), or the file `durable-fit stack up` wrote for this role in its state
 * folder. There is no built-in key: a worker without credentials stops at start-up and says why.
 */
import type { FailureKind } from '../failure-kind';
import fs from 'node:fs';
import path from 'node:path';
import type { DurableFitOptions } from './options';
import { jsonErrorPlace } from '../security/secret-safe';

/** `worker`: read/write objects in the checkpoint bucket. `reader`: read-only (the CLI's `ckpt` commands). */
export type S3Role = 'worker' | 'reader';

/** What a credentials file holds (the stack also records its endpoint and CA there). */
export interface S3CredentialsFile {
  accessKey: string;
  secretKey: string;
  /** The endpoint these credentials are for, e.g. `https://127.0.0.1:9000` after `stack up --tls`. */
  endpoint?: string;
  /** CA certificate file that signed the endpoint's certificate. */
  caFile?: string;
}

export interface ResolvedS3Credentials extends S3CredentialsFile {
  /** Where they came from, for messages: `environment` or a file path. */
  source: string;
}

/** No credentials anywhere: names every way to give them. */
export class S3CredentialsMissingError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly role: S3Role,
    readonly stackFile: string,
  ) {
    super(
      `no S3 credentials for the ${role}: set DFIT_S3_ACCESS_KEY and DFIT_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID / ` +
        `AWS_SECRET_ACCESS_KEY), or DFIT_S3_CREDENTIALS_FILE to a JSON file {"accessKey","secretKey"}; on the ` +
        `local stack, \`durable-fit stack up\` writes ${stackFile} (with the same DFIT_STATE_DIR)`,
    );
    this.name = 'S3CredentialsMissingError';
  }
}

/** A credentials file that exists but cannot be used. */
export class S3CredentialsFileError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly file: string,
    reason: string,
  ) {
    super(`S3 credentials file ${file} ${reason}; fix it, or rerun \`durable-fit stack up\` to rewrite it`);
    this.name = 'S3CredentialsFileError';
  }
}

/** The file `stack up` writes for `role`: `<stateDir>/credentials/<role>.json` (0600, folder 0700). */
export function stackCredentialsFile(stateDir: string, role: S3Role): string {
  return path.join(stateDir, 'credentials', `${role}.json`);
}

/** The credentials `role` uses under `options`; throws `S3CredentialsMissingError` when there are none. */
export function resolveS3Credentials(options: DurableFitOptions, role: S3Role): ResolvedS3Credentials {
  if (options.s3AccessKey && options.s3SecretKey) {
    return { accessKey: options.s3AccessKey, secretKey: options.s3SecretKey, source: 'environment' };
  }
  if (options.s3CredentialsFile) return readCredentialsFile(options.s3CredentialsFile);
  const stackFile = stackCredentialsFile(options.stateDir, role);
  if (fs.existsSync(stackFile)) return readCredentialsFile(stackFile);
  throw new S3CredentialsMissingError(role, stackFile);
}

export function readCredentialsFile(file: string): ResolvedS3Credentials {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new S3CredentialsFileError(file, `cannot be read (${(err as Error).message})`);
  }
  let parsed: Partial<S3CredentialsFile>;
  try {
    parsed = (JSON.parse(text) ?? {}) as Partial<S3CredentialsFile>;
  } catch (err) {
    // Not the parser's message: it quotes the input around the error, e.g. part of the secret key.
    throw new S3CredentialsFileError(file, `is not valid JSON${jsonErrorPlace(err, text)}`);
  }
  if (typeof parsed.accessKey !== 'string' || typeof parsed.secretKey !== 'string' || !parsed.accessKey) {
    throw new S3CredentialsFileError(file, 'lacks "accessKey" and "secretKey"');
  }
  return {
    accessKey: parsed.accessKey,
    secretKey: parsed.secretKey,
    ...(parsed.endpoint ? { endpoint: parsed.endpoint } : {}),
    ...(parsed.caFile ? { caFile: parsed.caFile } : {}),
    source: file,
  };
}
