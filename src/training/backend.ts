/**
 * The one place that decides and loads the tfjs backend. Order for `auto`: tfjs-node-gpu →
 * tfjs-node → wasm → cpu. The native packages' JS comes from npm with their install script denied;
 * their addon and libtensorflow come from `durable-fit backend build` (src/native), so a native
 * backend is tried only when its addon is present, and a GPU one only when a GPU device is.
 * Entry points pass DFIT_BACKEND in as `request`.
 */
import fs from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type { BackendInfo } from '../state';
import { BackendUnavailableError } from './errors';
import { GRAPH_ADDON_FILE } from './graph/addon';
import { applyNativeEnv, nativeSettings } from './native-runtime';

export type BackendRequest =
  'auto' | 'tensorflow-gpu-graph' | 'tensorflow-gpu' | 'tensorflow-graph' | 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_REQUESTS: readonly BackendRequest[] = [
  'auto',
  'tensorflow-gpu-graph',
  'tensorflow-gpu',
  'tensorflow-graph',
  'tensorflow',
  'wasm',
  'cpu',
];

type ConcreteBackend = Exclude<BackendRequest, 'auto'>;
/**
 * `tensorflow-graph` (one traced TensorFlow graph per training step, src/training/graph) before eager
 * `tensorflow`: the peer benchmark measured it faster (docs/native.md). On a GPU eager stays first:
 * the graph path there is built but untested on a GPU.
 */
const AUTO_ORDER: readonly ConcreteBackend[] = [
  'tensorflow-gpu',
  'tensorflow-gpu-graph',
  'tensorflow-graph',
  'tensorflow',
  'wasm',
  'cpu',
];

const PACKAGES: Record<ConcreteBackend, string> = {
  'tensorflow-gpu-graph': '@tensorflow/tfjs-node-gpu',
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  'tensorflow-graph': '@tensorflow/tfjs-node',
  tensorflow: '@tensorflow/tfjs-node',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

/** Bumped when the traced step's arithmetic changes (it is part of the routing fingerprint). */
export const GRAPH_STEP_VERSION = '1';

/** Whether `value` names a backend request (for validating DFIT_BACKEND at the entry point). */
export function isBackendRequest(value: string): value is BackendRequest {
  return (BACKEND_REQUESTS as readonly string[]).includes(value);
}

/** Backends whose package can at least be resolved here (a native one may still fail to load). */
export function listInstalledBackends(): ConcreteBackend[] {
  return AUTO_ORDER.filter((b) => isResolvable(PACKAGES[b]));
}

/** Whether a backend runs training steps as traced graphs. */
export function isGraphBackend(backend: string): boolean {
  return backend.endsWith('-graph');
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
      activeBackend = candidate;
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
  // Both native packages, eager or graph, register as `tensorflow`: the one we activated tells them apart.
  const concrete =
    activeBackend && tfName(activeBackend) === name
      ? activeBackend
      : (AUTO_ORDER.find((b) => !b.includes('-') && tfName(b) === name) ?? 'cpu');
  return describeBackend(concrete);
}

/** The backend `selectBackend` last activated in this process. */
let activeBackend: ConcreteBackend | undefined;

async function activate(backend: ConcreteBackend): Promise<void> {
  if (backend !== 'wasm' && backend !== 'cpu') checkNative(backend);
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

/**
 * Refuses a native backend before loading it when it cannot work here, with the reason a user
 * needs (loading a half-installed tfjs-node registers its kernels and then throws).
 */
function checkNative(backend: Exclude<ConcreteBackend, 'wasm' | 'cpu'>): void {
  const gpu = backend.startsWith('tensorflow-gpu');
  const build = gpu ? 'durable-fit backend build --gpu' : 'durable-fit backend build';
  let packageDir: string;
  try {
    packageDir = path.dirname(require.resolve(`${PACKAGES[backend]}/package.json`));
  } catch {
    throw new Error(`${PACKAGES[backend]} is not installed (npm ci with npm ≥ 11.19, then \`${build}\`)`);
  }
  if (!fs.existsSync(path.join(packageDir, 'lib', 'napi-v8', 'tfjs_binding.node')))
    throw new Error(`not built: run \`${build}\``);
  if (isGraphBackend(backend) && !fs.existsSync(path.join(packageDir, 'lib', 'napi-v8', GRAPH_ADDON_FILE)))
    throw new Error(`the graph addon is not built: run \`${build}\``);
  if (gpu && !hasNvidiaDevice()) throw new Error('no NVIDIA GPU device here (/dev/nvidia0 is absent)');
  applyNativeEnv();
}

function hasNvidiaDevice(): boolean {
  return fs.existsSync('/dev/nvidia0') || fs.existsSync('/dev/dxg');
}

/** TensorFlow's own version string, from the loaded binding. */
function tensorflowVersion(): string {
  const backend = tf.findBackend('tensorflow') as { binding?: { TF_Version?: string } } | null;
  return backend?.binding?.TF_Version ?? 'unknown';
}

function tfName(backend: ConcreteBackend): string {
  return backend.startsWith('tensorflow') ? 'tensorflow' : backend;
}

/** The installed package folder of the active native backend (where its addons are). */
export function activePackageDir(): string {
  if (!activeBackend) throw new Error('no backend selected yet');
  return path.dirname(require.resolve(`${PACKAGES[activeBackend]}/package.json`));
}

function describeBackend(backend: ConcreteBackend): BackendInfo {
  const versions: Record<string, string> = {
    'tfjs-core': packageVersion('@tensorflow/tfjs-core'),
    'tfjs-layers': packageVersion('@tensorflow/tfjs-layers'),
  };
  versions[PACKAGES[backend].replace('@tensorflow/', '')] = packageVersion(PACKAGES[backend]);
  if (isGraphBackend(backend)) versions['graph-step'] = GRAPH_STEP_VERSION;
  if (backend.startsWith('tensorflow')) {
    // The bits change with TF's version and these settings (measured), so they are part of the
    // backend's identity: checkpoints record them and routing fingerprints hash them.
    versions.tensorflow = tensorflowVersion();
    Object.assign(versions, nativeSettings());
  }
  // Eager GPU and CPU share the name `tensorflow` (their versions differ); graph mode is `tensorflow-graph`.
  return { name: isGraphBackend(backend) ? 'tensorflow-graph' : tfName(backend), versions };
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
