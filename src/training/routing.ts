/**
 * Routing: a run's checkpoints continue bit-exactly only on the backend that wrote them (cpu and
 * wasm differ in the last bits; native TF also by its version and oneDNN flag), so every epoch of
 * a run goes to workers of one backend fingerprint. Each worker polls the shared task queue
 * (workflows and short activities) and its backend queue `<taskQueue>@<fingerprint>` (epochs).
 * The native-TF, speed, data-parallel and GPU work reuse these names: add the fields that change
 * the bits to `BackendInfo.versions` (or `flags`), never anything else.
 */
import { canonicalJson, sha256Hex } from './fingerprints';

/** What decides the bits a backend produces. `flags`: e.g. `{ TF_ENABLE_ONEDNN_OPTS: '0' }`. */
export interface FingerprintInput {
  name: string;
  versions: Record<string, string>;
  flags?: Record<string, string>;
}

/**
 * `<backend name>-<8 hex>`: the name for people reading the UI, the hash over name, package
 * versions and flags (only those; e.g. `crossBackendResume` does not change the bits) so a
 * different tfjs release is a different fleet.
 */
export function backendFingerprint(info: FingerprintInput): string {
  const { name, versions, flags } = info;
  const hash = sha256Hex(canonicalJson({ name, versions, ...(flags ? { flags } : {}) })).slice(0, 8);
  return `${name.replace(/[^A-Za-z0-9_.-]/g, '_')}-${hash}`;
}

/** The backend queue of `taskQueue` for one fingerprint, e.g. `durable-fit@wasm-1a2b3c4d`. */
export function backendQueue(taskQueue: string, fingerprint: string): string {
  return `${taskQueue}@${fingerprint}`;
}

/** The backend queue a worker with this backend polls besides `taskQueue`. */
export function workerRoute(taskQueue: string, backend: FingerprintInput): string {
  return backendQueue(taskQueue, backendFingerprint(backend));
}

export interface RouteChoice {
  /** The run's shared task queue (where `prepareRun` runs). */
  taskQueue: string;
  /** The backend queue of the worker running `prepareRun` (its `workerRoute`). */
  workerRoute: string;
  /** The backend recorded in the `resumeFrom` checkpoint, if the run resumes one. */
  resumeBackend?: FingerprintInput;
  /** The spec allows continuing on another backend (then any backend will do). */
  allowBackendChange: boolean;
}

/**
 * Where a run's epochs go, decided once before its first epoch: a resumed checkpoint's own backend
 * (only there does it continue exactly), else the backend of the worker that ran `prepareRun`
 * (a fresh start or a fork's weights-only start is exact on any backend).
 */
export function chooseRoute(choice: RouteChoice): string {
  if (choice.resumeBackend && !choice.allowBackendChange)
    return workerRoute(choice.taskQueue, choice.resumeBackend);
  return choice.workerRoute;
}
