/**
 * The trainer slots of one worker process: one trainer child per slot (started on first use), each
 * with its own warm session (kept in the child; the slot only knows its key). A slot runs one epoch at a time, so `worker --concurrency N` gets N
 * slots and N epochs train at once, each in its own process (the data-parallel work places one
 * shard per slot).
 */
import { readRssBytes, RSS_SAMPLE_MS } from '../src/metrics/trainer-rss';
import type { MetricsRecorder } from '../src/metrics/recorder';
import type { BackendInfo } from '../src/state';
import type { BackendRequest } from '../src/training/backend';
import type { ObjectClient } from '../src/storage/object-client';
import type { MemoryCap } from '../src/training/memory-cap';
import { TrainerBusyError } from '../src/training/errors';
import { TrainerProcess } from '../src/training/trainer-process';
import type { WarmKey } from '../src/training/warm-session';

export interface TrainerSlotsOptions {
  /** @default 'auto' */
  backend?: BackendRequest;
  /** Modules that register user tasks, loaded in every trainer process too. @default [] */
  taskModules?: string[];
  /** Trainer processes at most (one epoch each at a time). @default 1 */
  slots?: number;
  /** A trainer that uses no CPU and sends nothing this long while busy is killed. @default 60000 */
  hangTimeoutMs?: number;
  /** Where each trainer's resident memory is reported (every 2 s, labels backend and slot). @default none */
  metrics?: MetricsRecorder;
  /** Secret values the trainer processes never see, and that are masked in their output. @default [] */
  secrets?: readonly string[];
  /** Where the trainers hand large states over (the worker's scratch folder). @default os.tmpdir() */
  transferBase?: string;
  /**
   * The worker's bucket, whose `datasets/…` objects each trainer reads through this process (the
   * children hold no S3 credentials) to stream tasks with `data` (docs/datasets.md). @default none:
   * such tasks are refused by the trainer
   */
  datasets?: ObjectClient;
  /** Each trainer in a memory cgroup of its own with this limit (worker --trainer-memory-limit). @default none */
  memoryCap?: MemoryCap;
}

/** One trainer process and what it holds. */
export interface TrainerSlot {
  readonly index: number;
  trainer?: Promise<TrainerProcess>;
  busy: boolean;
  /**
   * What the slot's trainer holds warm: the session of its last finished job (`jobId`), training
   * the next epoch speculatively, keyed by the checkpoint it was saved as once saved. Cleared when
   * the next run starts (it adopts or discards it); the child itself never holds more than one.
   */
  warm?: { trainer: TrainerProcess; jobId: number; key: WarmKey };
  /** Monotonic use counter, to reuse the least recently used slot first. */
  usedAt: number;
}

export class TrainerSlots {
  readonly slots: TrainerSlot[];
  private uses = 0;
  private readonly rssTimer: NodeJS.Timeout | undefined;
  private sampling = false;

  constructor(private readonly options: TrainerSlotsOptions = {}) {
    const n = options.slots ?? 1;
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`slots must be a positive integer, got ${n}`);
    this.slots = Array.from({ length: n }, (_, index) => ({ index, busy: false, usedAt: 0 }));
    const metrics = options.metrics;
    if (metrics) {
      this.rssTimer = setInterval(() => void this.reportRss(metrics), RSS_SAMPLE_MS);
      this.rssTimer.unref();
    }
  }

  /** The backend of the trainers (starts the first slot's process if none runs yet). */
  async backend(): Promise<BackendInfo> {
    const slot = this.slots.find((s) => s.trainer) ?? this.slots[0]!;
    return (await this.trainerOf(slot)).backend;
  }

  /** Whether some slot's trainer holds a warm session saved as the checkpoint with this SHA-256. */
  isWarm(sha256: string): boolean {
    return this.slots.some((s) => isWarmFor(s, sha256));
  }

  /**
   * Takes a free slot: the one warm for `sha256` (its process has that run's data cached), else one
   * that holds nothing warm, else the least recently used. Throws `TrainerBusyError` when every slot
   * trains: the worker took more epochs than it has slots.
   */
  acquire(sha256?: string): TrainerSlot {
    const free = this.slots.filter((s) => !s.busy);
    const slot =
      free.find((s) => sha256 !== undefined && isWarmFor(s, sha256)) ??
      free.find((s) => !s.warm) ??
      free.sort((a, b) => a.usedAt - b.usedAt)[0];
    if (!slot) {
      throw new TrainerBusyError(
        `all ${this.slots.length} trainer slots are training; run at most as many epochs at once as ` +
          'slots (worker --concurrency N gives N slots)',
      );
    }
    slot.busy = true;
    slot.usedAt = ++this.uses;
    return slot;
  }

  release(slot: TrainerSlot): void {
    slot.busy = false;
  }

  /** The slot's trainer process, started (again, after a crash) when needed. */
  async trainerOf(slot: TrainerSlot): Promise<TrainerProcess> {
    const pending = slot.trainer;
    const current = pending && (await pending.catch(() => undefined));
    if (slot.trainer !== pending) return this.trainerOf(slot); // another caller restarted it meanwhile
    if (!current || !current.alive) {
      slot.trainer = TrainerProcess.start({
        backend: this.options.backend ?? 'auto',
        taskModules: this.options.taskModules ?? [],
        ...(this.options.hangTimeoutMs ? { hangTimeoutMs: this.options.hangTimeoutMs } : {}),
        ...(this.options.secrets ? { secrets: this.options.secrets } : {}),
        ...(this.options.transferBase ? { transferBase: this.options.transferBase } : {}),
        ...(this.options.datasets ? { datasets: this.options.datasets } : {}),
        ...(this.options.memoryCap ? { memoryCap: this.options.memoryCap } : {}),
      });
    }
    return slot.trainer as Promise<TrainerProcess>;
  }

  async close(): Promise<void> {
    clearInterval(this.rssTimer);
    await Promise.all(
      this.slots.map(async (slot) => {
        const current = slot.trainer && (await slot.trainer.catch(() => undefined));
        slot.trainer = undefined;
        slot.warm = undefined;
        await current?.close();
      }),
    );
  }

  /** Each live trainer's resident memory, read from outside (a busy or hung trainer is measured too). */
  private async reportRss(metrics: MetricsRecorder): Promise<void> {
    if (this.sampling) return; // a trainer still starting holds the previous sample up
    this.sampling = true;
    try {
      for (const slot of this.slots) {
        const trainer = slot.trainer && (await slot.trainer.catch(() => undefined));
        const rss = trainer?.alive && trainer.pid !== undefined ? await readRssBytes(trainer.pid) : undefined;
        if (trainer && rss !== undefined)
          metrics.withLabels({ backend: trainer.backend.name, slot: String(slot.index) }).setTrainerRss(rss);
      }
    } finally {
      this.sampling = false;
    }
  }
}

function isWarmFor(slot: TrainerSlot, sha256: string): boolean {
  return slot.warm !== undefined && slot.warm.key.saved?.sha256 === sha256;
}
