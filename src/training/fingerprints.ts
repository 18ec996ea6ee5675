/** Canonical JSON, topology and task fingerprints, and the resume compatibility check. */
import { createHash } from 'node:crypto';
import type { LayersModel } from '@tensorflow/tfjs-layers';
import packageJson from '../../package.json';
import type { BackendInfo, CheckpointMeta, Fingerprints } from '../state';
import type { StateDifference } from './errors';
import { IncompatibleStateError } from './errors';

/** JSON with object keys sorted at every level, so equal values give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The model topology as stored in checkpoints (`model.toJSON`, as an object). */
export function topologyOf(model: LayersModel): unknown {
  return model.toJSON(null, false);
}

/** durable-fit's version, recorded as the code fingerprint. */
export function codeVersion(): string {
  return packageJson.version;
}

export function computeFingerprints(task: string, hparams: unknown, topology: unknown): Fingerprints {
  return {
    topology: sha256Hex(canonicalJson(topology)),
    task: sha256Hex(canonicalJson({ task, hparams })),
    code: codeVersion(),
  };
}

/** What a resumed run must agree on with its checkpoint. */
export interface ResumeExpectation {
  task: string;
  hparams: Record<string, unknown>;
  seed: number;
  batchSize: number;
  epochs: number;
  fingerprints: Fingerprints;
  backend: BackendInfo;
  batchesPerEpoch: number;
  allowBackendChange: boolean;
}

/**
 * Refuses a resume that would not continue the same run; lists every difference. A larger
 * `epochs` is fine ("train longer"); a different backend only when explicitly allowed.
 */
export function checkResumable(meta: CheckpointMeta, want: ResumeExpectation): void {
  const diffs: StateDifference[] = [];
  const add = (field: string, saved: unknown, run: unknown) => {
    if (canonicalJson(saved) !== canonicalJson(run))
      diffs.push({ field, checkpoint: show(saved), run: show(run) });
  };
  add('task', meta.task, want.task);
  for (const key of new Set([...Object.keys(meta.hparams), ...Object.keys(want.hparams)])) {
    add(`hparams.${key}`, meta.hparams[key], want.hparams[key]);
  }
  add('seed', meta.spec.seed, want.seed);
  add('batchSize', meta.spec.batchSize, want.batchSize);
  add('batchesPerEpoch', meta.cursor.batchesPerEpoch, want.batchesPerEpoch);
  if (diffs.length === 0) add('topology fingerprint', meta.fingerprints.topology, want.fingerprints.topology);
  if (!want.allowBackendChange) add('backend', meta.backend.name, want.backend.name);
  if (meta.cursor.epoch > want.epochs) {
    diffs.push({
      field: 'epochs',
      checkpoint: `already at epoch ${meta.cursor.epoch}`,
      run: String(want.epochs),
    });
  }
  if (diffs.length > 0) throw new IncompatibleStateError(diffs);
}

function show(value: unknown): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}
