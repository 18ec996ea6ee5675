/** Flags that build a TrainingSpec, shared by `start` and `fork`. */
import { InvalidArgumentError } from 'commander';
import type { Command } from 'commander';
import { parseDurationMs } from '../config/duration';
import type { TrainingSpec, TrainingSpecInput } from '../spec';
import { InvalidSpecError, inMemoryDatasetMessage } from '../spec';
import { getTaskDescriptor } from '../training/tasks/catalog';

export interface SpecFlags {
  task?: string;
  epochs?: number;
  seed?: number;
  batchSize?: number;
  hparam: Record<string, unknown>;
  resumeFrom?: string;
  dataset?: string;
  validationDataset?: string;
  runName?: string;
  heartbeatTimeout?: number;
  backoff?: number;
  maxBackoff?: number;
  checkpointEveryBatches?: number;
  checkpointEverySeconds?: number;
  keepLast?: number;
  topK?: { k: number; monitor: string; mode: 'min' | 'max' };
  maxCrashes?: number;
  maxPreemptions?: number;
  allowBackendChange?: boolean;
  shards?: number;
  syncEvery?: number;
  outerOptimizer?: 'average' | 'nesterov';
  outerLr?: number;
  outerMomentum?: number;
  rollbackOnNan?: boolean;
  rollbackOnSpike?: { factor: number; window: number };
  rollbackSteps?: number;
  skipBatches?: number;
  maxRollbacks?: number;
}

const num = (value: string) => {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n))
    throw new InvalidArgumentError(`"${value}" is not a number`);
  return n;
};

/** A duration flag in seconds: Temporal CLI units (`30s`, `2m`, `500ms`, `1h30m`) or bare seconds. */
const seconds = (value: string) => {
  const millis = parseDurationMs(value, 's');
  if (millis === undefined)
    throw new InvalidArgumentError(`"${value}" is not a duration: use e.g. 30s, 2m, 500ms or bare seconds`);
  return millis / 1000;
};

/** `k=v`: v is parsed as JSON when it can be (numbers, booleans), else kept as a string. */
function hparam(value: string, previous: Record<string, unknown>): Record<string, unknown> {
  const eq = value.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError(`"${value}" is not key=value`);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    /* a plain string */
  }
  return { ...previous, [value.slice(0, eq)]: parsed };
}

function topK(value: string) {
  const [k, monitor, mode] = value.split(':');
  if (!k || !monitor || (mode !== 'min' && mode !== 'max')) {
    throw new InvalidArgumentError(`"${value}" is not K:metric:min|max (e.g. 3:valLoss:min)`);
  }
  return { k: num(k), monitor, mode: mode as 'min' | 'max' };
}

export function withSpecFlags(command: Command): Command {
  return command
    .option('--task <name>', 'task to train (durable-fit tasks lists them)')
    .option('--epochs <n>', 'epochs to train', num)
    .option('--seed <n>', 'run seed: same seed, same weights', num)
    .option('--batch-size <n>', 'batch size (default 32)', num)
    .option('--hparam <key=value>', 'a task hyperparameter (repeatable)', hparam, {})
    .option('--resume-from <s3url>', 'start from this explicit s3://bucket/key.ckpt')
    .option(
      '--dataset <name[@version]>',
      "dataset a streamed task trains on (default: the task's own): name (its latest version), or name@version with 8 or more hex digits of it; resolved once when the run starts",
    )
    .option(
      '--validation-dataset <name[@version]>',
      "validate a streamed task on this dataset, read in its own order (default: the task's own validation data)",
    )
    .option('--run-name <name>', 'checkpoint folder name (default: the workflow id)')
    .option('--heartbeat-timeout <duration>', 'crash detection time, e.g. 30s or 2m (default 10s)', seconds)
    .option('--backoff <duration>', 'wait before resuming after a failure, e.g. 500ms (default 1s)', seconds)
    .option('--max-backoff <duration>', 'cap of the doubling backoff, e.g. 2m (default 60s)', seconds)
    .option('--checkpoint-every-batches <n>', 'intra-epoch checkpoint every N batches', num)
    .option(
      '--checkpoint-every-seconds <duration>',
      'intra-epoch checkpoint every T, e.g. 45s (default 30s)',
      seconds,
    )
    .option('--keep-last <k>', 'keep only the last K epoch checkpoints', num)
    .option('--top-k <k:metric:mode>', 'also keep the best K by a metric, e.g. 3:valLoss:min', topK)
    .option('--max-crashes <n>', 'crash recoveries before the run fails (default 10)', num)
    .option('--max-preemptions <n>', 'preemptions before the run fails (default 20)', num)
    .option('--allow-backend-change', 'allow resuming on another tfjs backend')
    .option(
      '--shards <k>',
      'data-parallel: K shards per round, one per worker slot (docs/data-parallel.md)',
      num,
    )
    .option('--sync-every <h>', 'data-parallel: steps each shard trains between merges (with --shards)', num)
    .option('--outer-optimizer <name>', 'data-parallel merge: average (default) or nesterov', outerOptimizer)
    .option('--outer-lr <x>', 'data-parallel nesterov merge: outer learning rate (default 0.7)', num)
    .option('--outer-momentum <x>', 'data-parallel nesterov merge: outer momentum (default 0.9)', num)
    .option('--rollback-on-nan', 'divergence rollback when the loss is NaN or infinite')
    .option(
      '--rollback-on-spike <factor:window>',
      'divergence rollback when the loss is over factor × the median of the last window steps, e.g. 3:100',
      spike,
    )
    .option(
      '--rollback-steps <n>',
      'divergence: roll back to a checkpoint at least N steps before it (default 0)',
      num,
    )
    .option(
      '--skip-batches <n>',
      'divergence: skip the N batches ending with the diverged one (default 1)',
      num,
    )
    .option('--max-rollbacks <n>', 'divergence rollbacks before the run fails (default 3)', num);
}

/** `--rollback-on-spike 3:100` → `{ factor: 3, window: 100 }`. */
function spike(value: string): { factor: number; window: number } {
  const [factor, window] = value.split(':').map(Number);
  if (value.split(':').length !== 2 || !Number.isFinite(factor) || !Number.isInteger(window))
    throw new InvalidArgumentError(
      `"${value}" is not factor:window: use e.g. 3:100 (3 × the median of 100 steps)`,
    );
  return { factor: factor as number, window: window as number };
}

/**
 * The divergence flags → `spec.divergence`. `--rollback-on-spike` alone watches spikes only; any
 * divergence flag turns rollback on, with NaN detection unless only a spike was asked for.
 */
function divergenceFromFlags(flags: SpecFlags, base: Partial<TrainingSpecInput>) {
  const given = [
    flags.rollbackOnNan,
    flags.rollbackOnSpike,
    flags.rollbackSteps,
    flags.skipBatches,
    flags.maxRollbacks,
  ];
  if (given.every((v) => v === undefined)) return base.divergence;
  const onNonFinite =
    flags.rollbackOnNan ?? (flags.rollbackOnSpike ? false : (base.divergence?.onNonFinite ?? true));
  return Object.fromEntries(
    Object.entries({
      ...(base.divergence ?? {}),
      onNonFinite,
      spike: flags.rollbackOnSpike ?? base.divergence?.spike,
      rollbackSteps: flags.rollbackSteps ?? base.divergence?.rollbackSteps,
      skipBatches: flags.skipBatches ?? base.divergence?.skipBatches,
      maxRollbacks: flags.maxRollbacks ?? base.divergence?.maxRollbacks,
    }).filter(([, v]) => v !== undefined),
  );
}

function outerOptimizer(value: string): 'average' | 'nesterov' {
  if (value !== 'average' && value !== 'nesterov')
    throw new InvalidArgumentError(`"${value}" is not an outer optimizer: use average or nesterov`);
  return value;
}

/** `--shards`/`--sync-every`/`--outer-*` → `spec.parallel` (both of the first two, or none). */
function parallelFromFlags(flags: SpecFlags, base: Partial<TrainingSpecInput>) {
  const given = [flags.shards, flags.syncEvery, flags.outerOptimizer, flags.outerLr, flags.outerMomentum];
  if (given.every((v) => v === undefined)) return base.parallel;
  const shards = flags.shards ?? base.parallel?.shards;
  const syncEverySteps = flags.syncEvery ?? base.parallel?.syncEverySteps;
  if (shards === undefined || syncEverySteps === undefined)
    throw new InvalidArgumentError('data-parallel training needs both --shards <k> and --sync-every <h>');
  const outer = Object.fromEntries(
    Object.entries({
      ...(base.parallel?.outer ?? {}),
      optimizer: flags.outerOptimizer ?? base.parallel?.outer?.optimizer,
      lr: flags.outerLr ?? base.parallel?.outer?.lr,
      momentum: flags.outerMomentum ?? base.parallel?.outer?.momentum,
    }).filter(([, v]) => v !== undefined),
  );
  return { shards, syncEverySteps, ...(Object.keys(outer).length ? { outer } : {}) };
}

/** Flags → spec input; only what was given (the rest takes the spec's defaults). */
export function specFromFlags(
  flags: SpecFlags,
  base: Partial<TrainingSpecInput> = {},
): Record<string, unknown> {
  const pick = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  const checkpoint = pick({
    ...(base.checkpoint ?? {}),
    everyBatches: flags.checkpointEveryBatches,
    everySeconds: flags.checkpointEverySeconds,
    keepLast: flags.keepLast,
    topK: flags.topK,
  });
  const recovery = pick({
    ...(base.recovery ?? {}),
    heartbeatTimeoutSeconds: flags.heartbeatTimeout,
    backoffSeconds: flags.backoff,
    maxBackoffSeconds: flags.maxBackoff,
    maxCrashRecoveries: flags.maxCrashes,
    maxPreemptions: flags.maxPreemptions,
    allowBackendChange: flags.allowBackendChange,
  });
  return pick({
    ...base,
    task: flags.task ?? base.task,
    epochs: flags.epochs ?? base.epochs,
    seed: flags.seed ?? base.seed,
    batchSize: flags.batchSize ?? base.batchSize,
    hparams: { ...(base.hparams ?? {}), ...flags.hparam },
    resumeFrom: flags.resumeFrom ?? base.resumeFrom,
    dataset: flags.dataset ?? base.dataset,
    validationDataset: flags.validationDataset ?? base.validationDataset,
    runName: flags.runName ?? base.runName,
    parallel: parallelFromFlags(flags, base),
    divergence: divergenceFromFlags(flags, base),
    ...(Object.keys(checkpoint).length ? { checkpoint } : {}),
    ...(Object.keys(recovery).length ? { recovery } : {}),
  });
}

/**
 * Refuses, before anything is started, a `dataset` for a task whose descriptor says it trains on
 * in-memory data (the run's first activity would refuse it with the same words). A task whose
 * descriptor does not say is left to that activity.
 */
export function assertDatasetApplies(
  spec: Pick<TrainingSpec, 'task' | 'dataset' | 'validationDataset'>,
): void {
  const given = (['dataset', 'validationDataset'] as const).filter((f) => spec[f] !== undefined);
  if (given.length === 0 || getTaskDescriptor(spec.task).streams !== false) return;
  throw new InvalidSpecError(
    given.map((field) => `${field}: ${inMemoryDatasetMessage(spec.task, spec[field] as string)}`),
  );
}
