/**
 * A local certificate authority and the certificates it issues, for `stack up --tls` (MinIO's certs
 * folder) and the Temporal mTLS tests. Keys come from node:crypto (fast, native); node-forge only
 * writes the X.509 structures, which node:crypto cannot. Key files are 0600 and folders 0700.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import forge from 'node-forge';

export interface PemPair {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  commonName: string;
  /** DNS names and IP addresses the certificate is valid for (server certificates). @default [] */
  hosts?: string[];
  /** What the certificate proves. @default 'server' */
  usage?: 'server' | 'client';
  /** @default 825 (the longest validity browsers accept for a leaf) */
  days?: number;
}

/** The files of a local CA and MinIO's certs folder, under one directory. */
export interface StackTlsFiles {
  /** The CA certificate clients trust (`DFIT_S3_CA_FILE`). */
  caFile: string;
  /** The CA key (0600): issues more certificates, e.g. Temporal client certificates. */
  caKeyFile: string;
  /** MinIO's `--certs-dir`: `public.crt`, `private.key` and `CAs/`. */
  certsDir: string;
}

/** A new self-signed CA, valid for ten years. */
export function createCa(commonName = 'durable-fit local CA'): PemPair {
  const { keyPem, forgeKey, publicKey } = newKey();
  const cert = baseCertificate(commonName, publicKey, 3650);
  cert.setIssuer(cert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(forgeKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** A leaf certificate signed by `ca`, for a server (with its host names) or a client (mTLS). */
export function issueCertificate(ca: PemPair, options: IssueOptions): PemPair {
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const { keyPem, publicKey } = newKey();
  const cert = baseCertificate(options.commonName, publicKey, options.days ?? 825);
  cert.setIssuer(caCert.subject.attributes);
  const server = (options.usage ?? 'server') === 'server';
  const altNames = (options.hosts ?? []).map((host) =>
    net.isIP(host) ? { type: 7, ip: host } : { type: 2, value: host },
  );
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: server, clientAuth: !server },
    ...(altNames.length ? [{ name: 'subjectAltName', altNames }] : []),
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

/** Where `ensureStackTls` keeps its files under `dir`. */
export function stackTlsFiles(dir: string): StackTlsFiles {
  return {
    caFile: path.join(dir, 'ca.crt'),
    caKeyFile: path.join(dir, 'ca.key'),
    certsDir: path.join(dir, 'minio-certs'),
  };
}

/**
 * The local stack's CA and MinIO server certificate (for 127.0.0.1, ::1 and localhost plus `hosts`),
 * made once and kept: clients that trust the CA keep working across `stack down`/`up`.
 */
export function ensureStackTls(dir: string, hosts: string[] = []): StackTlsFiles {
  const files = stackTlsFiles(dir);
  makePrivateDir(dir);
  if (!fs.existsSync(files.caFile) || !fs.existsSync(files.caKeyFile)) {
    const ca = createCa();
    writePrivateFile(files.caKeyFile, ca.keyPem);
    fs.writeFileSync(files.caFile, ca.certPem, { mode: 0o644 });
    fs.rmSync(files.certsDir, { recursive: true, force: true }); // certificates of an older CA
  }
  const serverCert = path.join(files.certsDir, 'public.crt');
  if (!fs.existsSync(serverCert)) {
    const ca = {
      certPem: fs.readFileSync(files.caFile, 'utf8'),
      keyPem: fs.readFileSync(files.caKeyFile, 'utf8'),
    };
    const names = [...new Set(['127.0.0.1', '::1', 'localhost', ...hosts])];
    const server = issueCertificate(ca, { commonName: 'durable-fit MinIO', hosts: names });
    makePrivateDir(path.join(files.certsDir, 'CAs'));
    fs.writeFileSync(path.join(files.certsDir, 'CAs', 'ca.crt'), ca.certPem, { mode: 0o644 });
    writePrivateFile(path.join(files.certsDir, 'private.key'), server.keyPem);
    fs.writeFileSync(serverCert, server.certPem, { mode: 0o644 });
  }
  return files;
}

/** Creates a folder only its owner can enter (0700), tightening one that exists. */
export function makePrivateDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(dir, 0o700);
}

/** Writes a secret (a key, credentials) readable by its owner only (0600). */
export function writePrivateFile(file: string, content: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
}

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const keyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const forgeKey = forge.pki.privateKeyFromPem(keyPem);
  const publicKey = forge.pki.setRsaPublicKey(forgeKey.n, forgeKey.e);
  return { keyPem, forgeKey, publicKey };
}

function baseCertificate(commonName: string, publicKey: forge.pki.PublicKey, days: number) {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // A positive serial: the high bit of the first byte cleared.
  cert.serialNumber = `0${randomBytes(15).toString('hex')}`;
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + days * 86_400_000);
  cert.setSubject([
    { name: 'commonName', value: commonName },
    { name: 'organizationName', value: 'durable-fit' },
  ]);
  return cert;
}
