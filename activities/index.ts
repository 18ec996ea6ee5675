/**
 * The durable-fit activities, created with their dependencies injected:
 * `createActivities({ store, runs, engine })`. They implement `TrainingActivities` (src/contract), which
 * is what workflows proxy.
 */
import type { ActivityDeps } from './deps';
import { aggregateRound, initParallel } from './round-globals';
import { atBoundary } from './boundary';
import { withHeartbeats } from './epoch-liveness';
import { trainEpoch } from './epoch';
import { prepareRun } from './prepare-run';
import { withRoute } from './route-run';
import { applyRetention } from './apply-retention';
import { trainShard } from './shard';
import type { TrainingActivities } from '../src/contract';

/**
 * Every activity goes through `atBoundary`: its errors reach the workflow as `ApplicationFailure`s
 * typed by class name, non-retryable when the class declares itself permanent.
 */
export function createActivities(deps: ActivityDeps): TrainingActivities {
  return {
    prepareRun: atBoundary(async (input) => withRoute(await prepareRun(deps, input), deps.route)),
    trainEpoch: atBoundary((input) => trainEpoch(deps, input)),
    resumeEpoch: atBoundary((input) => trainEpoch(deps, input)),
    // Short activities heartbeat too: a worker lost mid-way is noticed within the heartbeat timeout.
    applyRetention: atBoundary((input) => withHeartbeats(() => applyRetention(deps, input))),
    initParallel: atBoundary((input) => withHeartbeats(() => initParallel(deps, input))),
    trainShard: atBoundary((input) => trainShard(deps, input)),
    aggregateRound: atBoundary((input) => withHeartbeats(() => aggregateRound(deps, input))),
  };
}

export type { ActivityDeps } from './deps';
export type { EpochEngine } from './epoch-engine';
