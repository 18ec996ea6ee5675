/**
 * trainShard: one shard of one data-parallel round, as a Temporal activity (README: Data-parallel
 * training). Starts from the round's global weights with the shard's own optimizer state (or from its
 * newest durable checkpoint inside the round after a failure), trains the round's H steps on its
 * slice of the data in a trainer, heartbeats, saves checkpoints inside the round by the run's
 * checkpoint policy (a checkpoint is heartbeated only once durable), and saves its result.
 */
import os from 'node:os';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/format';
import type {
  CheckpointRef,
  HeartbeatDetails,
  ShardHeartbeat,
  ShardResult,
  TrainShardInput,
} from '../src/contract';
import { PAUSED, PREEMPTED } from '../src/contract';
import { sha256OfParts } from '../src/checkpoint/integrity';
import { composeShardStart } from '../src/training/aggregate';
import type { TrainingState } from '../src/state';
import { EpochMeter } from '../src/metrics/epoch-meter';
import { NO_METRICS } from '../src/metrics/recorder';
import { toActivityFailure } from './boundary';
import { AttemptClock } from './attempt-clock';
import type { ActivityDeps } from './deps';
import type { EpochJob, EpochRequest } from './epoch-engine';
import { watchControls } from './controls-watch';
import { startHeartbeats, untilCancelled } from './epoch-liveness';
import { saveAt, shardKey } from './parallel-keys';

export async function trainShard(deps: ActivityDeps, input: TrainShardInput): Promise<ShardResult> {
  const started = Date.now();
  const ctx = Context.current();
  const runName = input.spec.runName ?? input.workflowId;
  const saver = new ShardSaver(deps, runName, input);
  // The shard's own step count where this attempt starts: its checkpoint in the round, else its
  // previous round's end (round 0: a fresh model).
  const startStep = input.resumeFrom?.step ?? input.previous?.step ?? 0;
  // Metrics (a no-op unless the worker injects a recorder), as for an epoch attempt: a resumed shard
  // counts its recovery and the steps its failure lost (`dfit_steps_redone_total{kind}`).
  const meter = new EpochMeter((deps.metrics ?? NO_METRICS).withLabels({ task: input.spec.task }), {
    startStep,
    ...(input.reason ? { recoveryKind: input.reason } : {}),
    attempt: ctx.info.attempt,
    ...(input.reason && input.stepsRedone !== undefined ? { stepsRedone: input.stepsRedone } : {}),
    ...(input.goodput !== undefined ? { goodput: input.goodput } : {}),
  });
  const scheduledAt = ctx.info.currentAttemptScheduledTimestampMs;
  const clock = new AttemptClock(
    startStep,
    Number.isFinite(scheduledAt) && scheduledAt > 0 ? scheduledAt : started,
  );
  let details: ShardHeartbeat = {
    epoch: input.round,
    batch: 0,
    batches: 0,
    loss: NaN,
    round: input.round,
    shard: input.shard,
  };
  // What heartbeats send and every failure carries: the newest durable checkpoint, the batch of the
  // round reached (at least the checkpoint's: progress reports lag the trainer) and the timing.
  const position = (): ShardHeartbeat => {
    const ckpt = saver.latest;
    const batch = ckpt?.epoch === input.round ? Math.max(details.batch, ckpt.batch) : details.batch;
    if (ckpt) clock.reachedAtLeast(ckpt.step);
    return { ...details, batch, ckpt, attempt: clock.timing() };
  };
  const stopHeartbeats = startHeartbeats(ctx, () => {
    meter.heartbeat();
    return position() as HeartbeatDetails;
  });
  try {
    const from = await untilCancelled(ctx, startState(deps, input));
    let job: EpochJob | undefined = undefined;
    const policy = input.spec.checkpoint;
    let last = { at: Date.now(), step: from?.step ?? 0 };
    const request = shardRequest(input, from, (p) => {
      details = { ...details, epoch: p.epoch, batch: p.batch + 1, batches: p.batches, loss: p.loss };
      meter.progress(p.step, p.loss); // p.step: the shard's steps trained so far, this batch included
      clock.progress(p.step);
      const byBatches = policy.everyBatches > 0 && p.step + 1 - last.step >= policy.everyBatches;
      const bySeconds = policy.everySeconds > 0 && Date.now() - last.at >= policy.everySeconds * 1000;
      if (job && (byBatches || bySeconds) && !saver.busy && p.batch + 1 < p.batches) {
        last = { at: Date.now(), step: p.step + 1 };
        saver.saveInBackground(clock.stall(job.snapshot()));
      }
    });
    job = await untilCancelled(ctx, deps.engine.start(request), (late) => late.stop());
    const interrupt = watchShardInterruptions(ctx, input, job, saver, clock);
    const outcome = await job.done.finally(() => interrupt.dispose());
    await clock.stall(saver.idle());
    if (outcome.stopped)
      throw await interrupted(saver, outcome.state, input, interrupt.reason(), clock, position);
    const ckpt = await clock.stall(saver.saveEnd(outcome.state));
    clock.reachedAtLeast(ckpt.step);
    details = { ...details, batch: details.batches };
    const attempt = clock.timing();
    meter.heartbeat();
    ctx.heartbeat({ ...details, ckpt, attempt } as HeartbeatDetails);
    return {
      round: input.round,
      shard: input.shard,
      ckpt,
      weightsSha256: outcome.state.meta.weightsSha256,
      metrics: roundMetrics(outcome.state, input.round),
      worker: `${os.hostname()}:${process.pid}`,
      durationMs: Date.now() - started,
      backend: outcome.state.meta.backend.name,
      ...(deps.route ? { route: deps.route } : {}),
      attempt,
    };
  } catch (err) {
    // Whatever ended the attempt, the workflow resumes the shard from its newest durable checkpoint.
    throw toActivityFailure(err, position());
  } finally {
    stopHeartbeats();
    meter.close();
  }
}

/** The engine request: the shard's config (rounds are its epochs) and round `input.round`. */
function shardRequest(
  input: TrainShardInput,
  from: StartState | undefined,
  onProgress: EpochRequest['onProgress'],
): EpochRequest {
  const { spec } = input;
  const parallel = spec.parallel;
  if (!parallel) throw new Error('trainShard needs spec.parallel');
  return {
    config: {
      task: spec.task,
      hparams: spec.hparams,
      seed: spec.seed,
      batchSize: spec.batchSize,
      epochs: input.rounds,
      shard: { index: input.shard, count: parallel.shards, steps: parallel.syncEverySteps },
    },
    epoch: input.round,
    ...(from ? { from: { sha256: from.sha256, url: from.url, bytes: from.bytes } } : {}),
    allowBackendChange: spec.recovery.allowBackendChange,
    specExtras: { training: spec, parallel: { round: input.round, shard: input.shard } },
    onProgress,
  };
}

interface StartState {
  url: string;
  sha256: string;
  bytes: Buffer;
  step: number;
}

/**
 * Where the shard starts: its own checkpoint inside the round (a resume), else its previous result
 * with the global weights (composed here, so its optimizer state carries over), else fresh: in round
 * 0 every shard builds the same fresh model that the global checkpoint of round 0 holds.
 */
async function startState(deps: ActivityDeps, input: TrainShardInput): Promise<StartState | undefined> {
  const load = (ref: CheckpointRef) =>
    deps.store.loadBytes(ref.url, { sha256: ref.sha256, bytes: ref.bytes });
  if (input.resumeFrom) {
    const bytes = await load(input.resumeFrom);
    return { url: input.resumeFrom.url, sha256: input.resumeFrom.sha256, bytes, step: input.resumeFrom.step };
  }
  if (!input.previous) return undefined;
  const [previous, global] = await Promise.all([load(input.previous), load(input.global)]);
  const start = composeShardStart(decodeCheckpoint(previous), decodeCheckpoint(global));
  const bytes = encodeCheckpoint(start);
  return { url: input.previous.url, sha256: sha256OfParts([bytes]), bytes, step: start.meta.cursor.step };
}

/** Metrics of the round just trained (the session evaluates at each round's end). */
function roundMetrics(state: TrainingState, round: number): Record<string, number> {
  const { epoch: _epoch, ...metrics } = state.meta.metrics.find((m) => m.epoch === round) ?? { epoch: round };
  return metrics;
}

/**
 * A worker shutdown or a stop (the workflow cancels the shard) and the run's pause stop the job at a
 * batch boundary; checkpoint-now saves one inside the round. Pause and checkpoint-now come from the
 * workflow's `controls` query, as for an epoch (controls-watch.ts).
 */
function watchShardInterruptions(
  ctx: Context,
  input: TrainShardInput,
  job: EpochJob,
  saver: ShardSaver,
  clock: AttemptClock,
) {
  let why: typeof PAUSED | typeof PREEMPTED | undefined;
  const stop = (type: typeof PAUSED | typeof PREEMPTED) => {
    if (why) return;
    why = type;
    job.stop();
  };
  const onAbort = () => stop(PREEMPTED);
  ctx.cancellationSignal.addEventListener('abort', onAbort);
  if (ctx.cancellationSignal.aborted) onAbort(); // cancelled while the job was being started
  const controls = watchControls(
    ctx,
    input.workflowId,
    {
      onPause: () => stop(PAUSED),
      onCheckpointNow: () => saver.saveInBackground(clock.stall(job.snapshot())),
    },
    input.checkpointRequestsServed ?? 0,
  );
  return {
    reason: () => why ?? PREEMPTED,
    dispose() {
      ctx.cancellationSignal.removeEventListener('abort', onAbort);
      controls.stop();
    },
  };
}

/**
 * Saves where the job stopped; the failure's details carry that checkpoint for the workflow, and the
 * attempt's position (batch reached and timing) for its goodput ledger.
 */
async function interrupted(
  saver: ShardSaver,
  state: TrainingState,
  input: TrainShardInput,
  type: typeof PAUSED | typeof PREEMPTED,
  clock: AttemptClock,
  position: () => ShardHeartbeat,
) {
  const ckpt = await clock.stall(saver.save(state)).catch(() => saver.latest);
  const what = type === PAUSED ? 'paused by request' : 'worker shutting down or shard cancelled (stop)';
  return ApplicationFailure.create({
    type,
    message: `${what}: shard ${input.shard} of round ${input.round} stopped at ${ckpt?.url ?? 'its start'}`,
    details: [{ ...position(), ckpt }],
    nonRetryable: false,
  });
}

/** Saves a shard's checkpoints one at a time; `latest` is the newest durable one. */
class ShardSaver {
  latest: CheckpointRef | undefined;
  private inFlight: Promise<unknown> | undefined;

  constructor(
    private readonly deps: ActivityDeps,
    private readonly runName: string,
    private readonly input: TrainShardInput,
  ) {
    this.latest = input.resumeFrom;
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Saves after any save in flight (a checkpoint-now may come while a policy save runs). */
  saveInBackground(state: Promise<TrainingState>): void {
    const before = this.inFlight ?? Promise.resolve();
    const saving: Promise<unknown> = before
      .then(() => state)
      .then((s) => this.save(s))
      .catch((err: unknown) =>
        this.deps.log?.('shard checkpoint failed; training goes on', { error: String(err) }),
      )
      .finally(() => {
        if (this.inFlight === saving) this.inFlight = undefined;
      });
    this.inFlight = saving;
  }

  async idle(): Promise<void> {
    await this.inFlight;
  }

  async save(state: TrainingState): Promise<CheckpointRef> {
    const { round, shard, attempt } = this.input;
    const ref = await saveAt(
      this.deps.store,
      shardKey(this.runName, round, shard, attempt, state.meta.cursor.step),
      state,
    );
    if (!this.latest || ref.step >= this.latest.step) this.latest = ref;
    return ref;
  }

  saveEnd(state: TrainingState): Promise<CheckpointRef> {
    const { round, shard, attempt } = this.input;
    return saveAt(this.deps.store, shardKey(this.runName, round, shard, attempt), state);
  }
}
