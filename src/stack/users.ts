/**
 * Least privilege on the local stack: a MinIO user for workers (objects in the checkpoint bucket, nothing
 * else) and a read-only one for the CLI's `ckpt` commands, made with the pinned `mc` client because
 * minio-js has no admin API. Their keys are generated once and kept in `<stateDir>/credentials/`
 * (0600 files in a 0700 folder), where workers and the CLI find them (src/config/s3-credentials.ts).
 */
import type { FailureKind } from '../failure-kind';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { readCredentialsFile, stackCredentialsFile } from '../config/s3-credentials';
import type { S3CredentialsFile, S3Role } from '../config/s3-credentials';
import { makePrivateDir, writePrivateFile } from './tls';

const run = promisify(execFile);

export interface MinioAdminConfig {
  /** The `mc` binary (src/stack/versions.ts MINIO_CLIENT). */
  mcBin: string;
  /** e.g. `https://127.0.0.1:9000` */
  endpoint: string;
  rootUser: string;
  rootPassword: string;
  /** CA file that signed the endpoint's certificate (`stack up --tls`). */
  caFile?: string;
}

export interface StackUser {
  role: S3Role;
  accessKey: string;
  policy: string;
  /** Where its credentials are written. */
  file: string;
}

/** An IAM policy: objects of `bucket` read/write (with multipart), listing it, nothing else. */
export function workerPolicy(bucket: string): object {
  return policy(
    ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
    [
      's3:GetObject',
      's3:PutObject',
      's3:DeleteObject',
      's3:AbortMultipartUpload',
      's3:ListMultipartUploadParts',
    ],
    bucket,
  );
}

/** An IAM policy: list and read objects of `bucket`. */
export function readerPolicy(bucket: string): object {
  return policy(['s3:GetBucketLocation', 's3:ListBucket'], ['s3:GetObject'], bucket);
}

/**
 * Creates (or updates) the worker and reader users with their policies, and writes their credentials
 * files with the endpoint and CA they are for. Idempotent: keys already on disk are reused.
 */
export async function ensureStackUsers(
  admin: MinioAdminConfig,
  bucket: string,
  stateDir: string,
): Promise<StackUser[]> {
  const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-mc-'));
  try {
    fs.chmodSync(configDir, 0o700);
    if (admin.caFile) {
      makePrivateDir(path.join(configDir, 'certs', 'CAs'));
      fs.copyFileSync(admin.caFile, path.join(configDir, 'certs', 'CAs', 'ca.crt'));
    }
    const mc = (...args: string[]) => runMc(admin, configDir, args);
    // The secret goes on stdin (mc reads it there when it is not on the command line): no `ps` shows it.
    const addUser = (accessKey: string, secretKey: string) =>
      runMc(admin, configDir, ['admin', 'user', 'add', 'dfit', accessKey], `${secretKey}\n`);
    const users: StackUser[] = [];
    for (const role of ['worker', 'reader'] as const) {
      const name = `durable-fit-${role}`;
      const policyFile = path.join(configDir, `${name}.json`);
      const document = role === 'worker' ? workerPolicy(bucket) : readerPolicy(bucket);
      fs.writeFileSync(policyFile, JSON.stringify(document));
      await mc('admin', 'policy', 'create', 'dfit', name, policyFile);
      const file = stackCredentialsFile(stateDir, role);
      const keys = existingKeys(file) ?? newKeys(role);
      await addUser(keys.accessKey, keys.secretKey);
      await mc('admin', 'policy', 'attach', 'dfit', name, '--user', keys.accessKey).catch((err: Error) => {
        if (!/already/i.test(err.message)) throw err;
      });
      const contents: S3CredentialsFile = {
        ...keys,
        endpoint: admin.endpoint,
        ...(admin.caFile ? { caFile: admin.caFile } : {}),
      };
      makePrivateDir(path.dirname(file));
      writePrivateFile(file, `${JSON.stringify(contents, null, 2)}\n`);
      users.push({ role, accessKey: keys.accessKey, policy: name, file });
    }
    return users;
  } finally {
    fs.rmSync(configDir, { recursive: true, force: true });
  }
}

/** A failed `mc` call, with its output (which never holds the root password: it travels in the env). */
export class MinioAdminError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly args: string[],
    readonly output: string,
  ) {
    super(
      `mc ${args.slice(0, 3).join(' ')} failed: ${output.trim().slice(-500)}; check that MinIO runs and ` +
        'that DFIT_S3_ROOT_USER / DFIT_S3_ROOT_PASSWORD match its root user',
    );
    this.name = 'MinioAdminError';
  }
}

async function runMc(
  admin: MinioAdminConfig,
  configDir: string,
  args: string[],
  input?: string,
): Promise<string> {
  const url = new URL(admin.endpoint);
  url.username = encodeURIComponent(admin.rootUser);
  url.password = encodeURIComponent(admin.rootPassword);
  const full = ['--config-dir', configDir, '--no-color', ...args];
  try {
    const running = run(admin.mcBin, full, {
      // The alias comes from the environment, so the root password never appears in a process listing.
      env: { ...process.env, MC_HOST_dfit: url.toString().replace(/\/$/, '') },
      timeout: 30_000,
    });
    running.child.stdin?.end(input ?? '');
    return (await running).stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new MinioAdminError(args, `${e.stdout ?? ''}${e.stderr ?? ''}` || e.message);
  }
}

function existingKeys(file: string): { accessKey: string; secretKey: string } | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    const { accessKey, secretKey } = readCredentialsFile(file);
    return { accessKey, secretKey };
  } catch {
    return undefined; // unreadable: replaced by new keys below
  }
}

function newKeys(role: S3Role): { accessKey: string; secretKey: string } {
  return {
    accessKey: `dfit-${role}-${randomBytes(4).toString('hex')}`,
    secretKey: randomBytes(24).toString('base64url'),
  };
}

function policy(bucketActions: string[], objectActions: string[], bucket: string): object {
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: bucketActions, Resource: [`arn:aws:s3:::${bucket}`] },
      { Effect: 'Allow', Action: objectActions, Resource: [`arn:aws:s3:::${bucket}/*`] },
    ],
  };
}
