/**
 * Settings of the native TensorFlow runtime that decide its bits, fixed before libtensorflow
 * loads (it reads them once, from the process environment: that is why this writes `process.env`).
 * A value the operator already set wins; the effective values are recorded in `BackendInfo.versions`,
 * so they land in every checkpoint and in the routing fingerprint.
 *
 * Measured on TF 2.21 (docs/native.md): the intra-op thread count, `TF_ENABLE_ONEDNN_OPTS` and
 * oneDNN's CPU ISA each change the weights; inter-op threads do not; `TF_DETERMINISTIC_OPS` did
 * not on CPU (it matters on GPU).
 */
import fs from 'node:fs';
import os from 'node:os';

/** Our defaults: op determinism on; oneDNN as TF ships it on x86; one inter-op thread. */
export const NATIVE_ENV_DEFAULTS: Readonly<Record<string, string>> = {
  TF_DETERMINISTIC_OPS: '1',
  TF_ENABLE_ONEDNN_OPTS: '1',
  TF_NUM_INTEROP_THREADS: '1',
  // Quiet TF's C++ INFO/WARNING lines, which would fill trainer logs.
  TF_CPP_MIN_LOG_LEVEL: '2',
};

/** Applies the defaults to `env` where unset; intra-op threads default to the cores, pinned explicitly. */
export function applyNativeEnv(env: NodeJS.ProcessEnv = process.env): void {
  for (const [key, value] of Object.entries(NATIVE_ENV_DEFAULTS)) env[key] ??= value;
  env.TF_NUM_INTRAOP_THREADS ??= String(Math.max(1, os.availableParallelism()));
}

/**
 * The recorded settings that change the bits. Pin `TF_NUM_INTRAOP_THREADS` (and, for mixed CPUs,
 * `ONEDNN_MAX_CPU_ISA`) on every worker of a fleet to make them one fingerprint.
 */
export function nativeSettings(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return {
    TF_DETERMINISTIC_OPS: env.TF_DETERMINISTIC_OPS ?? 'unset',
    TF_ENABLE_ONEDNN_OPTS: env.TF_ENABLE_ONEDNN_OPTS ?? 'unset',
    TF_NUM_INTRAOP_THREADS: env.TF_NUM_INTRAOP_THREADS ?? 'unset',
    'cpu-isa': `${process.arch}/${env.ONEDNN_MAX_CPU_ISA ?? detectIsa()}`,
  };
}

/** The widest x86 ISA class oneDNN would pick here (it dispatches kernels by it), from /proc/cpuinfo. */
export function detectIsa(cpuinfo = readCpuinfo()): string {
  const flags = new Set((/^flags\s*:(.*)$/m.exec(cpuinfo)?.[1] ?? '').trim().split(/\s+/));
  const classes: [string, string[]][] = [
    ['avx512_core_amx', ['amx_tile', 'amx_bf16', 'avx512_bf16']],
    ['avx512_core_fp16', ['avx512_fp16', 'avx512bw']],
    ['avx512_core_bf16', ['avx512_bf16', 'avx512bw']],
    ['avx512_core_vnni', ['avx512_vnni', 'avx512bw']],
    ['avx512_core', ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq']],
    ['avx2_vnni', ['avx_vnni', 'avx2']],
    ['avx2', ['avx2', 'fma']],
    ['avx', ['avx']],
    ['sse41', ['sse4_1']],
  ];
  return classes.find(([, needs]) => needs.every((f) => flags.has(f)))?.[0] ?? 'unknown';
}

function readCpuinfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}
