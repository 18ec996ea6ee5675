/**
 * Typed errors of the training engine. Each says what happened and what to do; context is kept in
 * readonly fields so activities can map them to Temporal failures without parsing messages.
 */
import type { FailureKind } from '../failure-kind';
import { redactedTail } from './redact';

/** Base class, so callers can tell engine errors from others. */
export abstract class TrainingEngineError extends Error {
  override get name(): string {
    return this.constructor.name;
  }
}

/** The requested tfjs backend cannot be loaded here. */
export class BackendUnavailableError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly requested: string,
    readonly available: readonly string[],
    readonly reason?: string,
  ) {
    super(
      `tfjs backend "${requested}" is not available${reason ? ` (${reason})` : ''}; ` +
        `available here: ${available.join(', ') || 'none'}. Set DFIT_BACKEND to one of them or to "auto"`,
    );
  }
}

/** No task of that name is registered. */
export class UnknownTaskError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly task: string,
    readonly known: readonly string[],
  ) {
    super(`unknown task "${task}"; registered tasks: ${known.join(', ')}. Register it with registerTask()`);
  }
}

/** Hyperparameters that the task's schema rejects (unknown keys, wrong types, out of range). */
export class InvalidHparamsError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly task: string,
    readonly issues: readonly string[],
  ) {
    super(`invalid hyperparameters for task "${task}": ${issues.join('; ')}`);
  }
}

/** A task definition that breaks the engine's contract (e.g. unnamed layers). */
export class TaskDefinitionError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly task: string,
    detail: string,
  ) {
    super(`task "${task}" is not usable: ${detail}`);
  }
}

/** One field where a checkpoint and the run that wants to resume from it differ. */
export interface StateDifference {
  field: string;
  checkpoint: string;
  run: string;
}

/**
 * The checkpoint was written by a different task, hparams, seed, batch size, model or backend: a
 * resume would not reproduce the original run (that would be a fork).
 */
export class IncompatibleStateError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(readonly differences: readonly StateDifference[]) {
    super(
      `checkpoint does not match this run: ${differences
        .map((d) => `${d.field}: checkpoint ${d.checkpoint}, run ${d.run}`)
        .join('; ')}. Resume with the settings that wrote it, or start a new run from scratch`,
    );
  }
}

/** Most characters of a crashed trainer's stderr a crash report carries (it lands in history). */
export const CRASH_TAIL_MAX = 1000;

/**
 * The trainer process exited while it was expected to be running. Its message (which reaches the
 * workflow history and the Web UI) holds at most the last `CRASH_TAIL_MAX` characters of the
 * child's stderr, with credential-shaped values masked (redact.ts).
 */
export class TrainerCrashedError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'transient';
  readonly stderrTail: string;
  constructor(
    readonly exitCode: number | null,
    readonly signal: string | null,
    stderrTail: string,
    /** What is known of why, e.g. its memory cgroup counted an OOM kill (memory-cap.ts). */
    readonly killedBy?: string,
  ) {
    const tail = redactedTail(stderrTail, CRASH_TAIL_MAX);
    super(
      `trainer process exited unexpectedly (code ${exitCode}, signal ${signal})` +
        (killedBy ? `, ${killedBy}` : '') +
        (tail ? `: ${tail}` : '') +
        '; resume from the last checkpoint',
    );
    this.stderrTail = tail;
  }
}

/**
 * The trainer process stopped making progress (no CPU time, no messages) while it had work, e.g. it
 * was SIGSTOPped or deadlocked; it was killed so the run can resume from its last checkpoint.
 */
export class TrainerHungError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'transient';
  constructor(
    readonly pid: number,
    readonly hangTimeoutMs: number,
    readonly detail: string,
  ) {
    super(
      `trainer process ${pid} hung: it ${detail} (limit ${hangTimeoutMs / 1000} s), so it was killed; ` +
        'the run resumes from its last checkpoint. Raise DFIT_TRAINER_HANG_TIMEOUT if a single batch ' +
        'legitimately waits longer than that without using CPU',
    );
  }
}

/**
 * An error thrown inside the trainer process, carried back with its original name, message and
 * failure kind: the activity boundary reports it under the remote class's name and permanence.
 */
export class TrainerRemoteError extends TrainingEngineError {
  /** An error the trainer did not classify (a bug, a tfjs error) may pass on a retry. */
  static readonly failureKind: FailureKind = 'transient';
  /** The remote class's kind: a permanent error in the trainer stays permanent here. */
  readonly failureKind: FailureKind;
  /** The failure type the workflow sees: the remote class name, not this wrapper's. */
  readonly failureType: string;
  constructor(
    readonly remoteName: string,
    readonly remoteMessage: string,
    readonly remoteStack?: string,
    remoteKind: FailureKind = 'transient',
    /** Structured details the remote error carried (a divergence's step and loss). */
    readonly remoteData?: Record<string, unknown>,
  ) {
    super(`${remoteName}: ${remoteMessage}`);
    this.failureKind = remoteKind;
    this.failureType = remoteName;
  }
}

/** A call the trainer cannot take in its current state (e.g. a second run at once). */
export class TrainerBusyError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'transient';
  constructor(detail: string) {
    super(detail);
  }
}

/** A run config the engine cannot train (e.g. batch size 0). */
export class InvalidRunConfigError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly field: string,
    detail: string,
  ) {
    super(`invalid run config: ${field} ${detail}`);
  }
}

/** The task needs a tfjs kernel the active backend lacks (e.g. wasm has no Conv2D gradient). */
export class BackendUnsupportedError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly task: string,
    readonly backend: string,
    detail: string,
  ) {
    super(
      `task "${task}" cannot train on the ${backend} backend: ${detail}. ` +
        'Use DFIT_BACKEND=cpu, or install @tensorflow/tfjs-node',
    );
  }
}
