/**
 * MinIO's own `warp` as the store's ceiling on this machine: single-stream PUT and GET throughput of
 * 100 MiB objects. Optional: it is built with `go install github.com/minio/warp@latest` into the
 * tools cache, and when that cannot be done (no Go, no module proxy) the section is skipped with
 * the reason, and a marker stops later runs from retrying the build for a day.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { MinioConnection } from '../src/storage/minio-adapter';

export type WarpResult =
  { skipped: false; putMiBps: number; getMiBps: number; version: string } | { skipped: true; reason: string };

const RETRY_AFTER_MS = 24 * 3600_000;

/** The warp binary, building it once if possible; a string is the reason it is unavailable. */
export function ensureWarp(toolsDir: string): { bin: string } | { reason: string } {
  const dir = path.join(toolsDir, 'warp', 'latest');
  const bin = path.join(dir, 'warp');
  const failed = path.join(dir, 'build-failed.log');
  if (fs.existsSync(bin)) return { bin };
  if (fs.existsSync(failed) && Date.now() - fs.statSync(failed).mtimeMs < RETRY_AFTER_MS)
    return { reason: `go install failed recently: ${lastLine(fs.readFileSync(failed, 'utf8'))}` };
  fs.mkdirSync(dir, { recursive: true });
  const build = spawnSync('go', ['install', 'github.com/minio/warp@latest'], {
    env: { ...process.env, GOBIN: dir, CGO_ENABLED: '0' },
    encoding: 'utf8',
    timeout: 600_000,
  });
  if (build.status === 0 && fs.existsSync(bin)) return { bin };
  const log = `${build.error?.message ?? ''}${build.stdout ?? ''}${build.stderr ?? ''}`;
  fs.writeFileSync(failed, log);
  return { reason: `go install github.com/minio/warp@latest failed: ${lastLine(log)}` };
}

/** Runs `warp put` and `warp get` against the bench's MinIO (loopback only). */
export function runWarp(toolsDir: string, s3: MinioConnection, durationS: number): WarpResult {
  const found = ensureWarp(toolsDir);
  if ('reason' in found) return { skipped: true, reason: found.reason };
  const host = new URL(s3.endpoint).host;
  const common = [
    `--host=${host}`,
    `--access-key=${s3.accessKey}`,
    `--secret-key=${s3.secretKey}`,
    '--bucket=warp-bench',
    '--obj.size=100MiB',
    '--concurrent=1',
    `--duration=${durationS}s`,
    '--noclear=false',
  ];
  const run = (op: string) => {
    const out = spawnSync(found.bin, [op, ...common], {
      encoding: 'utf8',
      timeout: (durationS + 120) * 1000,
    });
    const text = `${out.stdout ?? ''}\n${out.stderr ?? ''}`;
    const value = /([\d.]+)\s*MiB\/s/.exec(text)?.[1];
    if (out.status !== 0 || value === undefined) throw new Error(`warp ${op} failed: ${lastLine(text)}`);
    return Number(value);
  };
  try {
    const version = spawnSync(found.bin, ['--version'], { encoding: 'utf8' }).stdout.trim();
    return { skipped: false, putMiBps: run('put'), getMiBps: run('get'), version };
  } catch (err) {
    return { skipped: true, reason: (err as Error).message };
  }
}

function lastLine(text: string): string {
  const lines = text.trim().split('\n').filter(Boolean);
  return (lines.slice(-2).join(' ') || 'no output').slice(0, 300);
}
