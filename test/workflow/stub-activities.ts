/**
 * Stub activities for the fast workflow tier: plain functions the test drives. Each epoch call
 * heartbeats until the test settles it: complete the epoch, pause or preempt at a batch (failures
 * whose details carry the checkpoint "saved" there, as the real activity does), fail, or crash (stop
 * heartbeating, so the server times it out).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type {
  CheckpointRef,
  EpochResult,
  HeartbeatDetails,
  PreparedRun,
  PrepareRunInput,
  RetentionInput,
  TrainEpochInput,
} from '../../src/contract';
import { parseSpec } from '../../src/spec';

export const BATCHES = 10;

/** A checkpoint whose cursor is `batch` of `epoch` (an epoch end is batch 0 of the next epoch). */
export function ckptAt(run: string, epoch: number, batch: number): CheckpointRef {
  const step = epoch * BATCHES + batch;
  const url = `s3://stub/${run}/epoch=${String(epoch).padStart(4, '0')}-step=${String(step).padStart(7, '0')}.ckpt`;
  return { url, sha256: '0'.repeat(64), bytes: 1, epoch, batch, step };
}

export class EpochCall {
  crashed = false;
  private settle!: { resolve(r: EpochResult): void; reject(e: Error): void };
  readonly done = new Promise<EpochResult>((resolve, reject) => (this.settle = { resolve, reject }));

  constructor(
    readonly type: 'trainEpoch' | 'resumeEpoch',
    readonly input: TrainEpochInput & { reason?: string },
  ) {}

  get run(): string {
    return this.input.spec.runName ?? this.input.workflowId;
  }

  complete(metrics: Record<string, number> = { loss: 1 / (this.input.epoch + 1) }): void {
    this.settle.resolve(this.result(metrics));
  }

  /** The result of this epoch: its end checkpoint is batch 0 of the next epoch. */
  result(metrics: Record<string, number> = { loss: 1 / (this.input.epoch + 1) }): EpochResult {
    const ckpt = ckptAt(this.run, this.input.epoch + 1, 0);
    const { epoch } = this.input;
    return {
      epoch,
      step: ckpt.step,
      ckpt,
      metrics,
      weightsSha256: `w${epoch}`,
      backend: 'stub',
      durationMs: 1,
    };
  }

  /** Fails as the real activity does when paused (or preempted) at `batch`: details carry the checkpoint. */
  interrupt(type: 'Paused' | 'Preempted', batch: number): CheckpointRef {
    const ckpt = ckptAt(this.run, this.input.epoch, batch);
    this.fail(ApplicationFailure.create({ type, message: `${type} at batch ${batch}`, details: [{ ckpt }] }));
    return ckpt;
  }

  fail(err: Error): void {
    this.settle.reject(err);
  }

  /** Stops heartbeating; the server times the attempt out (HEARTBEAT). */
  crash(): void {
    this.crashed = true;
    setTimeout(() => this.settle.reject(new Error('stub: crashed attempt ends')), 5000).unref();
  }

  /** Heartbeats `details` once, then crashes: the server's timeout carries them to the workflow. */
  crashAfter(details: HeartbeatDetails): void {
    this.lastWords = details;
  }

  /** Details for the next heartbeat, after which the attempt crashes. */
  lastWords: HeartbeatDetails | undefined;
}

export class StubActivities {
  readonly calls: EpochCall[] = [];
  readonly retention: RetentionInput[] = [];
  /** What each new epoch call does at once; by default the test settles it. */
  onCall: (call: EpochCall) => void = () => {};
  /** `prepareRun` waits for this (a slow first activity). */
  prepareGate: Promise<void> = Promise.resolve();
  /** Make `applyRetention` fail (non-retryably) this many times. */
  retentionFailures = 0;
  private waiters: (() => void)[] = [];

  /** Resolves with the `n`th epoch call (0-based) once it has started. */
  async call(n: number, timeoutMs = 20_000): Promise<EpochCall> {
    const deadline = Date.now() + timeoutMs;
    while (!this.calls[n]) {
      if (Date.now() > deadline) throw new Error(`epoch call ${n} never came; ${this.calls.length} so far`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return this.calls[n];
  }

  activities() {
    return {
      prepareRun: async (input: PrepareRunInput): Promise<PreparedRun> => {
        await this.prepareGate;
        return { spec: parseSpec(input.spec, input.workflowId) };
      },
      trainEpoch: (input: TrainEpochInput) => this.epoch(new EpochCall('trainEpoch', input)),
      resumeEpoch: (input: TrainEpochInput) => this.epoch(new EpochCall('resumeEpoch', input)),
      applyRetention: async (input: RetentionInput): Promise<{ deleted: string[] }> => {
        this.retention.push(input);
        if (this.retentionFailures-- > 0)
          throw ApplicationFailure.nonRetryable('stub: bucket unreachable', 'S3Error');
        return { deleted: [] };
      },
    };
  }

  private async epoch(call: EpochCall): Promise<EpochResult> {
    const ctx = Context.current();
    this.calls.push(call);
    for (const wake of this.waiters.splice(0)) wake();
    this.onCall(call);
    const beat = () => {
      if (call.crashed) return;
      ctx.heartbeat(call.lastWords ?? { epoch: call.input.epoch, batch: 1, batches: BATCHES, loss: 1 });
      if (call.lastWords) call.crash();
    };
    beat();
    const timer = setInterval(beat, 100);
    try {
      return await Promise.race([call.done, ctx.cancelled.then(() => call.done)]);
    } finally {
      clearInterval(timer);
    }
  }
}
