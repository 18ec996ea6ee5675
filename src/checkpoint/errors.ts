/**
 * Typed checkpoint errors. Each class declares its `failureKind` (see src/failure-kind.ts): most are
 * permanent (retrying the same call fails the same way); a missing or corrupt *starting* checkpoint is
 * `unusable-checkpoint`, so the workflow falls back to an older one.
 */
import type { FailureKind } from '../failure-kind';

/** Base class of every error the checkpoint module throws on purpose. */
export abstract class CheckpointError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No object at that URL. */
export class CheckpointNotFoundError extends CheckpointError {
  static readonly failureKind: FailureKind = 'unusable-checkpoint';
  constructor(readonly url: string) {
    super(
      `checkpoint not found: ${url}; list the run's checkpoints with \`durable-fit ckpt ls <runName>\` and pass one of them`,
    );
  }
}

/** The URL names a prefix ("directory") that holds checkpoints, not a `.ckpt` object. */
export class CheckpointIsPrefixError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly url: string,
    readonly count: number,
    readonly newest: string | undefined,
  ) {
    super(
      `${url} is a prefix, not a checkpoint: point at a .ckpt file; ` +
        `found ${count} checkpoint${count === 1 ? '' : 's'} under that prefix` +
        (newest ? `, newest: ${newest}` : ''),
    );
  }
}

/** The URL or the bytes are not a durable-fit `.ckpt`. */
export class NotACkptError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(
      `not a .ckpt checkpoint: ${target} (${reason}); point at an s3://bucket/…/epoch=EEEE-step=SSSSSSS.ckpt file`,
    );
  }
}

/** What kind of damage a corrupt checkpoint shows. */
export type CorruptionKind = 'hash-mismatch' | 'size-mismatch' | 'truncated' | 'bad-header' | 'bad-metadata';

/** The checkpoint's bytes are damaged: hash or size mismatch, truncated, or a bad header. */
export class CheckpointCorruptError extends CheckpointError {
  static readonly failureKind: FailureKind = 'unusable-checkpoint';
  constructor(
    readonly kind: CorruptionKind,
    readonly detail: string,
    readonly url?: string,
  ) {
    super(
      `checkpoint${url ? ` ${url}` : ''} is corrupt (${kind}: ${detail}); ` +
        'do not resume from it: resume from an earlier checkpoint (`durable-fit ckpt ls <runName>`)',
    );
  }
}

/**
 * A signing key is configured and the checkpoint carries a signature that does not verify: its
 * bytes (and hashes) were replaced by someone without the key, or it was signed with a key this
 * worker does not hold. See src/checkpoint/signing.ts.
 */
export class CheckpointSignatureError extends CheckpointError {
  static readonly failureKind: FailureKind = 'unusable-checkpoint';
  constructor(
    readonly reason: string,
    readonly url?: string,
  ) {
    super(
      `checkpoint${url ? ` ${url}` : ''} failed signature verification (${reason}); ` +
        'do not resume from it: resume from an earlier checkpoint (`durable-fit ckpt ls <runName>`), ' +
        'and find out who can write to the bucket',
    );
  }
}

/** A signing key is configured and the checkpoint carries no signature (written without a key, or v1). */
export class CheckpointUnsignedError extends CheckpointError {
  static readonly failureKind: FailureKind = 'unusable-checkpoint';
  constructor(
    readonly url?: string,
    /** Whether the file embeds a payload hash (format v2), so `ckpt import --sign` can take it. */
    readonly signable = true,
  ) {
    const fix = signable
      ? 'if you trust it, download it (`durable-fit ckpt get`) and sign it into a run with ' +
        '`durable-fit ckpt import --sign <file> <runName>`'
      : 'it embeds no payload hash (format v1), so it cannot be signed: resume from a newer checkpoint';
    super(
      `checkpoint${url ? ` ${url}` : ''} is not signed and a checkpoint signing key is configured; ${fix}; ` +
        'or, deliberately, accept unsigned checkpoints with DFIT_CKPT_ACCEPT_UNSIGNED=1',
    );
  }
}

/** Written by a newer durable-fit whose layout this version cannot read. */
export class UnsupportedFormatVersionError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(
      `checkpoint format version ${found} is newer than this durable-fit reads (up to ${supported}); ` +
        'upgrade durable-fit on the workers that load it',
    );
  }
}

/** One difference between the weights a model expects and those a checkpoint holds. */
export interface TopologyDifference {
  name: string;
  kind: 'missing' | 'unexpected' | 'shape' | 'dtype';
  expected?: string;
  actual?: string;
}

/** The checkpoint's weights do not fit the task's model (other layers or shapes). */
export class IncompatibleTopologyError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(readonly differences: readonly TopologyDifference[]) {
    super(
      `checkpoint does not fit the task's model: ${describeDifferences(differences)}; ` +
        'resume with the same task and hyperparameters that wrote it, or start a new run',
    );
  }
}

/** A run name that cannot be part of a checkpoint key. */
export class InvalidRunNameError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly runName: string,
    readonly reason: string,
  ) {
    super(`invalid run name ${JSON.stringify(runName)}: ${reason}; use letters, digits, '.', '_' and '-'`);
  }
}

/** A checkpoint URL that is not `s3://bucket/key`. */
export class InvalidCheckpointUrlError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(
      `invalid checkpoint URL ${JSON.stringify(url)}: ${reason}; expected s3://bucket/<run>/epoch=EEEE-step=SSSSSSS.ckpt`,
    );
  }
}

/** A create-only save found the key already taken: keys are never reused. */
export class CheckpointExistsError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(readonly url: string) {
    super(
      `checkpoint ${url} already exists and is never overwritten; load it, or save under a new epoch/step`,
    );
  }
}

/**
 * Every key a checkpoint may take (the plain key and its `-v1…-vN` versions) holds another object:
 * the save cannot go anywhere without overwriting. Not a fault of the checkpoint a run resumed from.
 */
export class CheckpointKeyConflictError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly url: string,
    readonly tried: number,
  ) {
    super(
      `cannot save checkpoint ${url}: it and its ${tried - 1} versioned keys (-v1…) all hold other objects; ` +
        'inspect them with `durable-fit ckpt ls <runName>`, delete the bad ones, or use another runName',
    );
  }
}

/**
 * A new run was pointed at a run folder that already holds checkpoints of another run. Its keys
 * would collide with that run's (keys are never overwritten), and its retention would delete them.
 */
export class RunFolderTakenError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly runName: string,
    readonly count: number,
    readonly newest: string,
  ) {
    super(
      `run folder "${runName}" already holds ${count} checkpoint${count === 1 ? '' : 's'} of another run ` +
        `(newest: ${newest}); pick another runName (or leave it out: each run then gets its own folder), ` +
        `or continue that run explicitly with resumeFrom: ${newest}`,
    );
  }
}

/**
 * A checkpoint whose key names one cursor (`epoch=E-step=S`) holds the training state of another:
 * it was copied or renamed under a name that is not its own. A run starting from it would record a
 * position the file does not hold (retention and `ckpt ls` order checkpoints by their keys).
 */
export class CheckpointCursorMismatchError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly url: string,
    readonly named: { epoch: number; step: number },
    readonly actual: { epoch: number; batch: number; step: number },
    readonly ownUrl: string,
  ) {
    super(
      `checkpoint ${url} is named for epoch ${named.epoch}, step ${named.step}, but holds the training ` +
        `state at epoch ${actual.epoch}, step ${actual.step} (batch ${actual.batch}): it was copied or renamed ` +
        `under a name that is not its own, so no run starts from it. Use it under its own name: copy it to ` +
        `${ownUrl}, or \`durable-fit ckpt get\` it and \`durable-fit ckpt import\` it (which names it by its cursor)`,
    );
  }
}

/** The in-memory state cannot be written: a programming error in the caller. */
export class InvalidCheckpointStateError extends CheckpointError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(readonly detail: string) {
    super(`cannot write checkpoint: ${detail}`);
  }
}

/** A weight's name, shape and (optionally) dtype, as a model or a checkpoint has it. */
export interface WeightShape {
  name: string;
  shape: readonly number[];
  dtype?: string;
}

/** Pure: the differences between the weights a model expects and those a checkpoint holds. */
export function diffTopology(
  expected: readonly WeightShape[],
  actual: readonly WeightShape[],
): TopologyDifference[] {
  const actualByName = new Map(actual.map((w) => [w.name, w]));
  const expectedNames = new Set(expected.map((w) => w.name));
  const out: TopologyDifference[] = [];
  for (const want of expected) {
    const have = actualByName.get(want.name);
    if (!have) out.push({ name: want.name, kind: 'missing', expected: shapeText(want.shape) });
    else if (shapeText(want.shape) !== shapeText(have.shape)) {
      out.push({
        name: want.name,
        kind: 'shape',
        expected: shapeText(want.shape),
        actual: shapeText(have.shape),
      });
    } else if (want.dtype && have.dtype && want.dtype !== have.dtype) {
      out.push({ name: want.name, kind: 'dtype', expected: want.dtype, actual: have.dtype });
    }
  }
  for (const have of actual) {
    if (!expectedNames.has(have.name))
      out.push({ name: have.name, kind: 'unexpected', actual: shapeText(have.shape) });
  }
  return out;
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}

function describeDifferences(differences: readonly TopologyDifference[]): string {
  const shown = differences.slice(0, 8).map((d) => {
    if (d.kind === 'missing') return `${d.name} missing from checkpoint (model has ${d.expected})`;
    if (d.kind === 'unexpected') return `${d.name} ${d.actual} not in model`;
    return `${d.name} ${d.kind} ${d.actual} in checkpoint, model wants ${d.expected}`;
  });
  const more = differences.length > shown.length ? `; and ${differences.length - shown.length} more` : '';
  return shown.join('; ') + more;
}
