/**
 * TrainingSpec: the workflow's input. Only `task`, `epochs` and `seed` are required; everything else
 * has a default here. It is validated at the client (CLI) and again by the first activity of the run,
 * so `temporal workflow start --input '{...}'` gets the same checks. It never holds credentials: the
 * workflow history is readable in the Web UI.
 */
import type { FailureKind } from './failure-kind';
import { z } from 'zod';
import { runNameProblem } from './run-name';

/**
 * Ceilings on what a spec may ask for. A spec is untrusted input (anyone who can start a workflow
 * writes one), so counts get limits far above real use but below what would exhaust a worker or a
 * workflow history. The message gives the allowed range.
 */
const intInRange = (min: number, max: number) => {
  const message = `must be an integer from ${min} to ${max}`;
  return z.number().int(message).min(min, message).max(max, message);
};
/** An `s3://bucket/key` URL: S3 keys are at most 1024 bytes, bucket names 63. */
const MAX_URL_LENGTH = 1100;
const DAY_SECONDS = 86_400;
/** A duration in seconds that the workflow turns into whole timers: 0, or 1 ms to 1 day. */
const seconds = (name: string) =>
  z
    .number()
    .min(0, `${name} must not be negative`)
    .max(DAY_SECONDS, `${name} must be at most 1 day (86400)`)
    .refine((s) => s === 0 || s >= 0.001, `${name} must be 0 or at least 0.001 (1 ms)`);

const checkpointPolicy = z
  .object({
    /** Save an intra-epoch checkpoint every N batches (0 = off). @default 0 */
    everyBatches: intInRange(0, 1_000_000_000).default(0),
    /** Save an intra-epoch checkpoint every T seconds (0 = off). @default 30 */
    everySeconds: z.number().min(0).default(30),
    /** Keep the last K epoch checkpoints (0 = keep all). @default 0 */
    keepLast: intInRange(0, 100_000).default(0),
    /** Also keep the best K by a monitored metric. */
    topK: z
      .object({
        k: intInRange(1, 100_000),
        monitor: z.string().min(1).max(100),
        mode: z.enum(['min', 'max']),
      })
      .strict()
      .optional(),
  })
  .strict();

const recoveryPolicy = z
  .object({
    /** Heartbeat timeout of epoch activities; a dead worker is noticed this long after its last heartbeat. @default 10 */
    heartbeatTimeoutSeconds: z
      .number()
      .min(1, 'heartbeatTimeoutSeconds must be at least 1 second')
      .max(DAY_SECONDS, 'heartbeatTimeoutSeconds must be at most 1 day (86400)')
      .default(10),
    /** Crash (heartbeat timeout) recoveries before the run fails. @default 10 */
    maxCrashRecoveries: intInRange(0, 10_000).default(10),
    /** Preemptions (worker shutdown) before the run fails. @default 20 */
    maxPreemptions: intInRange(0, 10_000).default(20),
    /** Consecutive transient infrastructure failures (S3, network) without progress before the run fails. @default 10 */
    maxInfraRetries: intInRange(0, 10_000).default(10),
    /**
     * Wait before resuming after a failure: 0 (no wait) or 0.001 s to 1 day. Doubles for each
     * consecutive infrastructure failure, up to `maxBackoffSeconds`. @default 1
     */
    backoffSeconds: seconds('backoffSeconds').default(1),
    /** Cap of the doubling backoff after consecutive infrastructure failures (0.001 s to 1 day). @default 60 */
    maxBackoffSeconds: seconds('maxBackoffSeconds').default(60),
    /**
     * Fallbacks to an older checkpoint (the one resumed from was missing or corrupt) allowed in a
     * row, without a finished epoch in between, before the run fails. @default 3
     */
    maxFallbacks: intInRange(0, 10_000).default(3),
    /** Allow resuming on another tfjs backend (results will differ in the last bits). @default false */
    allowBackendChange: z.boolean().default(false),
  })
  .strict();

/**
 * Divergence rollback (README: Divergence rollback), off unless given: the trainer watches every
 * step's loss; when it is NaN or infinite (`onNonFinite`), or above `spike.factor` × the median of the
 * last `spike.window` losses, the workflow rolls back to the newest checkpoint at least `rollbackSteps`
 * before that step and skips the `skipBatches` batches up to and including it.
 */
const divergencePolicy = z
  .object({
    /** A NaN or infinite loss is a divergence. @default true */
    onNonFinite: z.boolean().default(true),
    /** A loss above `factor` × the median of the last `window` losses is a divergence. */
    spike: z
      .object({
        factor: z.number().gt(1, 'spike.factor must be above 1').max(1e6),
        window: intInRange(2, 10_000),
      })
      .strict()
      .optional(),
    /** Roll back to a checkpoint at least this many steps before the diverged step. @default 0 */
    rollbackSteps: intInRange(0, 1_000_000_000).default(0),
    /** Batches skipped after a rollback, ending with the diverged one (within its epoch). @default 1 */
    skipBatches: intInRange(1, 1_000_000_000).default(1),
    /** Rollbacks over the whole run before it fails. @default 3 */
    maxRollbacks: intInRange(0, 10_000).default(3),
  })
  .strict();

/** Where and why a run diverged: the step whose loss gave it away (`step`: its cursor before it). */
export interface Divergence {
  epoch: number;
  batch: number;
  step: number;
  /** The loss of that step (null in JSON when NaN or infinite). */
  loss: number;
  reason: string;
}

/** A batch range of one epoch a rollback skips: those batches move the cursor and train nothing. */
export interface SkipWindow {
  epoch: number;
  fromBatch: number;
  /** Inclusive. */
  toBatch: number;
}

/**
 * Data-parallel rounds (README: Data-parallel training): K shards each train H steps on their own
 * slice of the data from the round's global checkpoint, then one outer step merges them.
 */
const parallelPolicy = z
  .object({
    /** Shards K: trained at once, each on every K-th sample of the epoch's order. */
    shards: intInRange(1, 256),
    /** Steps H each shard trains between two merges (H = 1 with plain SGD: synchronous data parallelism). */
    syncEverySteps: intInRange(1, 1_000_000),
    outer: z
      .object({
        /** `average`: the merged weights are the shards' mean; `nesterov`: a momentum step on the mean delta. @default 'average' */
        optimizer: z.enum(['average', 'nesterov']).default('average'),
        /** Outer learning rate (nesterov). @default 0.7 */
        lr: z.number().positive().max(100).default(0.7),
        /** Outer momentum (nesterov). @default 0.9 */
        momentum: z.number().min(0).max(0.999).default(0.9),
      })
      .strict()
      .default({ optimizer: 'average', lr: 0.7, momentum: 0.9 }),
  })
  .strict();

/**
 * A data-parallel run always starts at round 0 from a fresh model: the rounds loop has no way to start
 * from a checkpoint (a global checkpoint holds shard 0's optimizer state and data cursor only, not the
 * other shards'). So `resumeFrom` and `forkedFrom` are refused with `parallel` rather than ignored.
 */
function parallelStartProblems(spec: {
  parallel?: unknown;
  resumeFrom?: string;
  forkedFrom?: unknown;
}): { field: 'resumeFrom' | 'forkedFrom'; message: string }[] {
  if (spec.parallel === undefined) return [];
  const problems: { field: 'resumeFrom' | 'forkedFrom'; message: string }[] = [];
  if (spec.resumeFrom !== undefined)
    problems.push({
      field: 'resumeFrom',
      message:
        'resuming a data-parallel run (parallel) from a checkpoint is not supported: it would train from ' +
        'round 0 again. Leave out resumeFrom to start the parallel run afresh; to interrupt a parallel run ' +
        'and go on later, pause it and resume it (`durable-fit pause|resume <id>`) instead of stopping it',
    });
  if (spec.forkedFrom !== undefined)
    problems.push({
      field: 'forkedFrom',
      message:
        "starting a data-parallel run (parallel) from another run's weights is not supported: it would " +
        'train from round 0 and ignore them. Fork without parallel (a single-worker run starts from the ' +
        'weights), or leave out forkedFrom to start the parallel run afresh',
    });
  return problems;
}

/**
 * `name`, `name@version` or `name@<8 or more hex digits of the version>` of a dataset. The run's
 * first activity (`prepareRun`) resolves it once, to `name@<all 64 hex digits>`, and every epoch,
 * resume and shard of the run reads exactly that version (docs/datasets.md).
 */
const DATASET_REF = /^[a-z0-9][a-z0-9_-]{0,62}(@[0-9a-f]{8,64})?$/;

/** What is wrong with `dataset` (or `validationDataset`) as a spec field, or undefined. */
function datasetRefProblem(ref: string): string | undefined {
  if (DATASET_REF.test(ref)) return undefined;
  return (
    `"${ref}" is not a dataset: write name or name@version (a name is 1-63 lower-case letters, digits, ` +
    '- or _, starting with a letter or digit; a version its 64 hex digits or the first 8 or more of them). ' +
    '`durable-fit data ls <name>` lists the versions'
  );
}

/**
 * The refusal of a dataset for a task that trains on its own in-memory data: the same words from
 * the CLI, the run's first activity and the trainer.
 */
export function inMemoryDatasetMessage(task: string, dataset: string): string {
  return (
    `${JSON.stringify(dataset)} was given, but ${task} trains on its own in-memory data: ` +
    'leave out dataset, or train a task that streams a dataset (e.g. mnist-mlp-stream)'
  );
}

export const trainingSpecSchema = z
  .object({
    task: z.string().min(1).max(100),
    epochs: intInRange(1, 1_000_000),
    seed: z.number().int(),
    batchSize: intInRange(1, 65_536).default(32),
    hparams: z.record(z.string(), z.unknown()).default({}),
    /** Name of the run's checkpoint folder; defaults to the workflow id. */
    runName: z.string().optional(),
    /** Start from this checkpoint: an explicit `s3://bucket/key.ckpt`. */
    resumeFrom: z.string().max(MAX_URL_LENGTH).optional(),
    /**
     * For a task that streams a dataset from the bucket: `name` (its latest version when the run
     * starts; a resume keeps its checkpoint's), `name@version` or `name@<8+ hex digits of it>`,
     * instead of the task's own reference (docs/datasets.md). The run's first activity writes it
     * back resolved, `name@<64 hex>`. Refused for tasks with in-memory data.
     */
    dataset: z.string().max(200).optional(),
    /**
     * For a task that streams a dataset: its validation data from a dataset too (`name`,
     * `name@version` or `name@<8+ hex digits>`), read in the dataset's own order, instead of the
     * task's own (`data.validation`, else `loadDataset`'s in-memory split). Resolved at start, as
     * `dataset` is.
     */
    validationDataset: z.string().max(200).optional(),
    /** tfjs backend the worker should use, when the worker allows a choice (else the worker's). */
    checkpoint: checkpointPolicy.default(checkpointPolicy.parse({})),
    recovery: recoveryPolicy.default(recoveryPolicy.parse({})),
    /** Continue-as-new after this many epochs in one workflow run. @default 100 */
    continueAsNewEvery: intInRange(1, 10_000).default(100),
    /** Link to the run this one was forked from (set by `durable-fit fork`). */
    forkedFrom: z
      .object({ workflowId: z.string().max(1000).optional(), ckpt: z.string().max(MAX_URL_LENGTH) })
      .strict()
      .optional(),
    /** Train in data-parallel rounds across workers (absent: one epoch activity at a time). */
    parallel: parallelPolicy.optional(),
    /** Roll back and skip data when the loss diverges (absent: off). */
    divergence: divergencePolicy.optional(),
  })
  .strict()
  .superRefine((spec, ctx) => {
    if (spec.runName !== undefined) {
      const problem = runNameProblem(spec.runName);
      if (problem) ctx.addIssue({ code: 'custom', path: ['runName'], message: problem });
    }
    if (spec.resumeFrom !== undefined && !/^s3:\/\/[^/]+\/.+/.test(spec.resumeFrom)) {
      ctx.addIssue({ code: 'custom', path: ['resumeFrom'], message: 'must be an s3://bucket/key.ckpt URL' });
    }
    for (const field of ['dataset', 'validationDataset'] as const) {
      const problem = spec[field] === undefined ? undefined : datasetRefProblem(spec[field]);
      if (problem) ctx.addIssue({ code: 'custom', path: [field], message: problem });
    }
    for (const problem of parallelStartProblems(spec))
      ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
    if (spec.divergence && spec.parallel)
      ctx.addIssue({
        code: 'custom',
        path: ['divergence'],
        message: 'divergence rollback works on single-worker runs only: leave out divergence or parallel',
      });
  });

/** A spec as written by a user (defaults optional). */
export type TrainingSpecInput = z.input<typeof trainingSpecSchema>;
/** A spec with every default applied. */
export type TrainingSpec = z.output<typeof trainingSpecSchema>;

/** Thrown for a spec that cannot run; the message lists every problem and how to fix it. */
export class InvalidSpecError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'InvalidSpecError';
  constructor(readonly problems: string[]) {
    super(`invalid training spec: ${problems.join('; ')}`);
  }
}

/** Validates a spec and applies defaults. `runName` defaults to `defaultRunName` (the workflow id). */
export function parseSpec(raw: unknown, defaultRunName?: string): TrainingSpec {
  const result = trainingSpecSchema.safeParse(raw);
  if (!result.success) {
    throw new InvalidSpecError(
      result.error.issues.map((issue) => {
        const where = issue.path.length ? issue.path.join('.') : 'spec';
        return `${where}: ${issue.message}`;
      }),
    );
  }
  const spec = result.data;
  if (spec.runName === undefined && defaultRunName !== undefined) {
    const safe = defaultRunName.replace(/[^A-Za-z0-9._-]/g, '-');
    return { ...spec, runName: safe };
  }
  return spec;
}
