/**
 * Typed search attributes that make training runs findable and filterable in the Temporal Web UI
 * (`DfitStatus="running"`, `DfitTask="mnist-mlp"`, ...). `stack up` and the test harness register
 * them on the dev server; on other clusters run `durable-fit stack register-attributes` once.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { SHARDS } from './parallel';
import { SWEEP_ID, SWEEP_METRIC, TRIAL_RUNG } from './sweep';

export const TASK = defineSearchAttributeKey('DfitTask', SearchAttributeType.KEYWORD);
export const STATUS = defineSearchAttributeKey('DfitStatus', SearchAttributeType.KEYWORD);
export const EPOCH = defineSearchAttributeKey('DfitEpoch', SearchAttributeType.INT);
export const LOSS = defineSearchAttributeKey('DfitLoss', SearchAttributeType.DOUBLE);
export const BEST_METRIC = defineSearchAttributeKey('DfitBestMetric', SearchAttributeType.DOUBLE);
export const RECOVERIES = defineSearchAttributeKey('DfitRecoveries', SearchAttributeType.INT);
export const BACKEND = defineSearchAttributeKey('DfitBackend', SearchAttributeType.KEYWORD);
export const RUN_NAME = defineSearchAttributeKey('DfitRunName', SearchAttributeType.KEYWORD);

/** All of the project's search attributes, for registration. */
export const SEARCH_ATTRIBUTES = [
  TASK,
  STATUS,
  EPOCH,
  LOSS,
  BEST_METRIC,
  RECOVERIES,
  BACKEND,
  RUN_NAME,
  SWEEP_ID,
  TRIAL_RUNG,
  SWEEP_METRIC,
  SHARDS,
] as const;
