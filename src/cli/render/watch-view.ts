/**
 * Follows a run until it closes: two live progress bars (epochs, batches of the running epoch; a
 * data-parallel run: rounds, and its shards' cells) on a terminal, plain narration lines otherwise;
 * recoveries and finished epochs (rounds) are printed as they happen.
 */
import { MultiBar, Presets } from 'cli-progress';
import type { SingleBar } from 'cli-progress';
import type { Client } from '@temporalio/client';
import { closingLines, narrate, RECOVERY_MARK } from './narrate';
import type { RunSnapshot } from './run-state';
import { batchOf, epochsDone, isClosed, readRun } from './run-state';
import { isParallel, roundsLine, shardCellsLine } from './round-grid';

export interface WatchOptions {
  out: NodeJS.WritableStream & { isTTY?: boolean };
  /** Live bars (a terminal) or narration lines only. @default out.isTTY */
  bars?: boolean;
  /** How often to look at the run. @default 500 */
  intervalMs?: number;
  /** Stop watching (the run goes on). */
  signal?: AbortSignal;
}

export interface View {
  update(snapshot: RunSnapshot, lines: string[]): void;
  stop(): void;
}

/** Watches until the run closes (or `signal` aborts); returns the last snapshot. */
export async function watchRun(
  client: Client,
  workflowId: string,
  options: WatchOptions,
): Promise<RunSnapshot> {
  const view = (options.bars ?? options.out.isTTY) ? barsView(options.out) : linesView(options.out);
  let prev: RunSnapshot | undefined;
  try {
    for (;;) {
      const next = await readRun(client, workflowId);
      view.update(next, narrate(prev, next));
      prev = next;
      if (isClosed(next) || options.signal?.aborted) break;
      await sleep(options.intervalMs ?? 500, options.signal);
    }
  } finally {
    view.stop();
  }
  if (isClosed(prev)) for (const line of closingLines(prev)) options.out.write(`${line}\n`);
  return prev;
}

export function barsView(out: NodeJS.WritableStream): View {
  const multi = new MultiBar(
    {
      stream: out,
      format: '{label} {bar} {value}/{total} {info}',
      barsize: 30,
      hideCursor: true,
      clearOnComplete: false,
      forceRedraw: true,
    },
    Presets.shades_classic,
  );
  let epochs: SingleBar | undefined;
  let batches: SingleBar | undefined;
  return {
    update(s, lines) {
      // Logged lines land where the bars were: erase each line's rest (ESC[K), or bar fragments stay.
      for (const line of lines) multi.log(`${line}${ERASE_TO_END}\n`);
      const done = epochsDone(s);
      const total = s.progress?.epochs ?? done;
      const status = s.progress?.status ?? s.attributes.status ?? s.execution.toLowerCase();
      epochs ??= multi.create(total, 0, { label: 'epochs ', info: '' });
      epochs.setTotal(total);
      const parallel = isParallel(s);
      const label = parallel ? 'rounds ' : 'epochs ';
      epochs.update(done, { label, info: `${status}${recoveryInfo(s)}` });
      const d = parallel ? slowestShard(s) : s.pending?.details;
      batches ??= multi.create(1, 0, { label: 'batches', info: '' });
      batches.setTotal(Math.max(d?.batches ?? 1, 1));
      batches.update(d?.batch ?? 0, { label: parallel ? 'shards ' : 'batches', info: batchInfo(s) });
    },
    stop: () => multi.stop(),
  };
}

function linesView(out: NodeJS.WritableStream): View {
  let lastProgressAt = 0;
  return {
    update(s, lines) {
      for (const line of lines) out.write(`${line}\n`);
      if (isParallel(s) && Date.now() - lastProgressAt > 5000 && !isClosed(s) && !reportsRecovery(lines)) {
        lastProgressAt = Date.now();
        const cells = shardCellsLine(s);
        if (cells) out.write(`  … ${roundsLine(s)}: ${cells}\n`);
        return;
      }
      const d = s.pending?.details;
      if (d && Date.now() - lastProgressAt > 5000 && !isClosed(s) && !reportsRecovery(lines)) {
        lastProgressAt = Date.now();
        out.write(`  … ${batchInfo(s)} (${batchOf(d)})\n`);
      }
    },
    stop: () => undefined,
  };
}

const ERASE_TO_END = '\x1b[K';

/**
 * A look that reports a recovery read the pending activity (describe) before the progress query that
 * revealed the recovery: its batch line may be the dead attempt's, so it is not printed after the
 * "resumed from" line; the next look shows the resumed activity.
 */
export function reportsRecovery(lines: readonly string[]): boolean {
  return lines.some((line) => line.startsWith(RECOVERY_MARK));
}

/** The shard of the round in flight that is furthest behind (for the second bar). */
function slowestShard(s: RunSnapshot): { batch: number; batches: number } | undefined {
  const round = s.progress?.parallel?.round;
  const beats = (s.shards ?? []).flatMap((x) => (x.details && x.details.round === round ? [x.details] : []));
  return beats.reduce<{ batch: number; batches: number } | undefined>(
    (min, b) => (!min || b.batch < min.batch ? b : min),
    undefined,
  );
}

function batchInfo(s: RunSnapshot): string {
  if (isParallel(s)) return shardCellsLine(s) ?? (isClosed(s) ? '' : 'between rounds');
  const p = s.pending;
  if (!p) return isClosed(s) ? '' : 'between epochs';
  if (!p.identity) return `${p.activityType} waiting for a worker`;
  const d = p.details;
  const silent = p.lastHeartbeatAt ? Math.round((Date.now() - p.lastHeartbeatAt) / 1000) : 0;
  const parts = [`epoch ${d?.epoch ?? '?'}`, p.activityType, p.identity];
  if (d && Number.isFinite(d.loss)) parts.push(`loss ${d.loss.toFixed(4)}`);
  if (silent >= 5) parts.push(`last heartbeat ${silent}s ago`);
  return parts.join(' · ');
}

function recoveryInfo(s: RunSnapshot): string {
  const n = s.result?.recoveries.length ?? s.progress?.recoveries.length ?? s.attributes.recoveries ?? 0;
  return n ? ` · ${n} ${n === 1 ? 'recovery' : 'recoveries'}` : '';
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
