/**
 * Which warm session a trainer may continue. After an epoch ends the trainer keeps its session
 * (model, optimizer, RNG, cursor) and trains the next epoch speculatively; the next run adopts that
 * continuation only when it asks for exactly the checkpoint the session was saved as, for the same
 * run. Anything else discards it, and the trainer restores from verified checkpoint bytes. Pure: the
 * parent (which slot to reuse) and the child (a last check before adopting) decide alike.
 */
import type { FailureKind } from '../failure-kind';
import type { SpecExtras } from './capture';
import { TrainingEngineError } from './errors';
import { canonicalJson } from './fingerprints';
import type { RunConfig } from './session';

/** What a held session is: its run, and the checkpoint its base state was saved as. */
export interface WarmKey {
  config: RunConfig;
  specExtras: SpecExtras;
  allowBackendChange: boolean;
  /** Where the continuation stops (the epoch after the base). */
  untilEpoch: number;
  /** The saved checkpoint of the base state; absent until its upload completed and was recorded. */
  saved?: { sha256: string; url: string };
}

/** What a new run asks for. */
export interface WarmWanted {
  config: RunConfig;
  specExtras: SpecExtras;
  allowBackendChange: boolean;
  untilEpoch: number;
  /** The checkpoint to start from (absent: a fresh start). */
  from?: { sha256: string; url: string };
  /** A fork (model weights of another run): never a continuation. */
  initWeights?: boolean;
  /** A deterministic stop for tests: the continuation may be past it. */
  stopAtStep?: number;
}

export type WarmDecision = { adopt: true } | { adopt: false; reason: string };

/** Adopt the held continuation, or discard it (with the reason, for logs and tests). */
export function decideWarmStart(held: WarmKey | undefined, wanted: WarmWanted): WarmDecision {
  const no = (reason: string): WarmDecision => ({ adopt: false, reason });
  if (!held) return no('no warm session');
  if (!wanted.from) return no('a fresh start');
  if (wanted.initWeights) return no('a fork from other weights');
  if (!held.saved) return no('the warm session was never saved as a checkpoint');
  if (held.saved.sha256 !== wanted.from.sha256 || held.saved.url !== wanted.from.url)
    return no('another checkpoint');
  if (canonicalJson(held.config) !== canonicalJson(wanted.config)) return no('another run configuration');
  if (canonicalJson(held.specExtras) !== canonicalJson(wanted.specExtras)) return no('another training spec');
  if (held.allowBackendChange !== wanted.allowBackendChange) return no('another backend-change setting');
  if (held.untilEpoch !== wanted.untilEpoch) return no('another end epoch');
  if (wanted.stopAtStep !== undefined) return no('a deterministic stop');
  return { adopt: true };
}

/** A run asked to continue a warm session the trainer does not hold (it was discarded or never kept). */
export class WarmSessionLostError extends TrainingEngineError {
  static readonly failureKind: FailureKind = 'transient';
  constructor(
    readonly sha256: string,
    reason: string,
  ) {
    super(
      `the trainer holds no warm session for checkpoint ${sha256} (${reason}); ` +
        'start the run from the checkpoint bytes instead (the epoch activity does so on its next attempt)',
    );
  }
}
