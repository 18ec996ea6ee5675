/**
 * The durable-fit activities, created with their dependencies injected:
 * `createActivities({ store, engine })`. Workflows call them through
 * `proxyActivities<ReturnType<typeof createActivities>>`.
 */
import type { CheckpointStore } from '../src/checkpoint/store';
import type { EpochEngine } from './epoch-engine';
import { atBoundary } from './boundary';
import { runEpoch } from './epoch';
import { prepareRun } from './prepare-run';
import { withRoute } from './route-run';
import { applyRetention } from './retention';
import type {
  EpochResult,
  PreparedRun,
  PrepareRunInput,
  ResumeEpochInput,
  RetentionInput,
  TrainEpochInput,
} from './types';

export interface ActivityDeps {
  store: CheckpointStore;
  engine: EpochEngine;
  log?: (message: string, meta?: Record<string, unknown>) => void;
  /**
   * This worker's backend queue (`workerRoute` in src/worker/routing.ts). When set, `prepareRun`
   * routes each run's epochs to one backend queue; absent, epochs go to the run's task queue.
   */
  route?: string;
}

/**
 * Every activity goes through `atBoundary`: its errors reach the workflow as `ApplicationFailure`s
 * typed by class name, non-retryable when the class declares itself permanent.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    /** Validates the spec (defaults applied) and its `resumeFrom`; fails fast on bad input. */
    prepareRun: atBoundary(async (input: PrepareRunInput): Promise<PreparedRun> =>
      withRoute(await prepareRun(deps, input), deps.route),
    ),
    /** Trains one epoch from the previous epoch's recorded `.ckpt` (or fresh at epoch 0). */
    trainEpoch: atBoundary((input: TrainEpochInput): Promise<EpochResult> => runEpoch(deps, input)),
    /** After a crash, preemption or fallback: continues from the explicit `.ckpt` in `input.ckptPath`. */
    resumeEpoch: atBoundary((input: ResumeEpochInput): Promise<EpochResult> => runEpoch(deps, input)),
    /** Deletes checkpoints the retention policy no longer keeps. */
    applyRetention: atBoundary((input: RetentionInput): Promise<{ deleted: string[] }> =>
      applyRetention(deps.store, input),
    ),
  };
}

export type { EpochEngine } from './epoch-engine';
