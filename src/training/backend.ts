/**
 * The one place that decides and loads the tfjs backend. Order for `auto`: tfjs-node-gpu →
 * tfjs-node → wasm → cpu. The native packages are optional dependencies (their install downloads
 * libtensorflow, which fails offline), so they are loaded with a guarded require. Library code
 * never reads the environment: entry points pass DFIT_BACKEND in as `request`.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '../state';
import { BackendUnavailableError } from './errors';

export type BackendRequest = 'auto' | 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_REQUESTS: readonly BackendRequest[] = [
  'auto',
  'tensorflow-gpu',
  'tensorflow',
  'wasm',
  'cpu',
];

type ConcreteBackend = Exclude<BackendRequest, 'auto'>;
const AUTO_ORDER: readonly ConcreteBackend[] = ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'];

const PACKAGES: Record<ConcreteBackend, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** Whether `value` names a backend request (for validating DFIT_BACKEND at the entry point). */
export function isBackendRequest(value: string): value is BackendRequest {
  return (BACKEND_REQUESTS as readonly string[]).includes(value);
}

/** Backends whose package can at least be resolved here (a native one may still fail to load). */
export function listInstalledBackends(): ConcreteBackend[] {
  return AUTO_ORDER.filter((b) => isResolvable(PACKAGES[b]));
}

/**
 * Loads and activates a backend. `auto` takes the first of the chain that loads. Throws
 * `BackendUnavailableError` listing what is installed when the request cannot be met.
 */
export async function selectBackend(request: BackendRequest = 'auto'): Promise<BackendInfo> {
  // tfjs prints a banner urging tfjs-node on every cpu process; we already tried it first, and
  // the banner would fill trainer logs and crash reports. PROD only mutes tfjs warnings.
  tf.env().set('PROD', true);
  const candidates = request === 'auto' ? AUTO_ORDER : [request];
  const failures: string[] = [];
  for (const candidate of candidates) {
    try {
      await activate(candidate);
      return describeBackend(candidate);
    } catch (error) {
      failures.push(`${candidate}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  throw new BackendUnavailableError(request, listInstalledBackends(), failures.join('; '));
}

/** The active backend as recorded in checkpoints and results. */
export function currentBackendInfo(): BackendInfo {
  const name = tf.getBackend();
  const concrete = AUTO_ORDER.find((b) => tfName(b) === name) ?? 'cpu';
  return describeBackend(concrete);
}

async function activate(backend: ConcreteBackend): Promise<void> {
  // Packages register their backend on import; a missing native binding throws here. A guarded
  // require (not an import) because the native packages are optional and often absent.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(PACKAGES[backend]);
  if (backend === 'wasm') {
    // In Node the .wasm files are read from disk, so point the loader at the package's dist folder.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const wasm = require(PACKAGES.wasm) as { setWasmPaths(prefix: string): void };
    wasm.setWasmPaths(path.dirname(require.resolve(PACKAGES.wasm)) + path.sep);
  }
  const ok = await tf.setBackend(tfName(backend));
  if (!ok) throw new Error(`tf.setBackend('${tfName(backend)}') returned false`);
  await tf.ready();
}

function tfName(backend: ConcreteBackend): string {
  return backend === 'tensorflow-gpu' ? 'tensorflow' : backend;
}

function describeBackend(backend: ConcreteBackend): BackendInfo {
  const versions: Record<string, string> = {
    'tfjs-core': packageVersion('@tensorflow/tfjs-core'),
    'tfjs-layers': packageVersion('@tensorflow/tfjs-layers'),
  };
  versions[PACKAGES[backend].replace('@tensorflow/', '')] = packageVersion(PACKAGES[backend]);
  return { name: tfName(backend), versions };
}

function packageVersion(pkg: string): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function isResolvable(pkg: string): boolean {
  try {
    require.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}
