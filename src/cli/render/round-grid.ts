/**
 * A data-parallel run as `status` and `watch` show it (README: Data-parallel training): a round ×
 * shard grid of the recent rounds and the round in flight, each cell a shard's state and recoveries
 * (`✓`, `✓ r1`, `▶ b30/50`, `⟲ r1`), and each round's global checkpoint. Pure functions of a snapshot.
 */
import Table from 'cli-table3';
import type { RoundLog, ShardHeartbeat, ShardLive } from '../../contract';
import type { RunSnapshot } from './run-state';
import { epochsDone } from './run-state';

/** One row of the grid: a round, a cell per shard, its time and its global checkpoint. */
export interface GridRow {
  round: number;
  cells: string[];
  /** Workflow time of the round (finished rounds). */
  time?: string;
  /** Finished: the merged global checkpoint; in flight: the one it started from. */
  ckpt: string;
  live: boolean;
}

/** A run with `parallel` in its spec: its progress or result speaks of rounds. */
export function isParallel(s: RunSnapshot): boolean {
  return Boolean(s.progress?.parallel ?? s.result?.rounds);
}

/** What a run counts: `round` for data-parallel runs, `epoch` for the others. */
export function unitOf(s: RunSnapshot): 'round' | 'epoch' {
  return isParallel(s) ? 'round' : 'epoch';
}

/** `round 3/12 · data epoch 1/4` (done / total; the totals a closed run no longer reports are left out). */
export function roundsLine(s: RunSnapshot): string | undefined {
  if (!isParallel(s)) return undefined;
  const p = s.progress?.parallel;
  const total = p?.rounds ?? (s.result?.status === 'completed' ? epochsDone(s) : undefined);
  const parts = [`round ${epochsDone(s)}${total !== undefined ? `/${total}` : ''}`];
  if (p?.dataEpoch !== undefined) parts.push(`data epoch ${p.dataEpoch}/${p.dataEpochs}`);
  if (p) parts.push(`${p.shards} shards × ${p.syncEverySteps} steps`);
  return parts.join(' · ');
}

/** A shard's cell: done `✓`, running `▶ b30/50`, recovering `⟲`, paused `‖`; ` r1` counts recoveries. */
export function shardCell(live: ShardLive | undefined, beat?: ShardHeartbeat): string {
  if (!live) return '·';
  const r = live.recoveries > 0 ? ` r${live.recoveries}` : '';
  if (live.state === 'done') return `✓${r}`;
  if (live.state === 'paused') return `‖${r}`;
  if (live.state === 'recovering') return `⟲${r}`;
  if (beat && beat.batches > 0) return `▶ b${beat.batch}/${beat.batches}${r}`;
  // A resumed attempt that has not reported yet is still recovering; a first attempt is starting.
  return live.recoveries > 0 ? `⟲${r}` : '▶';
}

/** The grid's rows: the rounds in the record's window (oldest first), then the round in flight. */
export function gridRows(s: RunSnapshot): GridRow[] {
  const p = s.progress?.parallel;
  const log: RoundLog[] = p?.log ?? s.result?.rounds ?? [];
  const rows = log.map((r) => ({
    round: r.round,
    cells: r.shards.map((sh) => shardCell({ shard: sh.shard, state: 'done', recoveries: sh.recoveries })),
    ...(r.roundMs !== undefined ? { time: `${(r.roundMs / 1000).toFixed(1)} s` } : {}),
    ckpt: r.ckpt,
    live: false,
  }));
  const current = p?.current;
  if (p && current && current.round === p.round && p.round < p.rounds) {
    const beats = (s.shards ?? []).flatMap((x) => (x.details?.round === p.round ? [x.details] : []));
    const cells = current.shards.map((live) =>
      shardCell(
        live,
        beats.find((b) => b.shard === live.shard),
      ),
    );
    const merging = current.shards.every((sh) => sh.state === 'done');
    rows.push({ round: p.round, cells, ckpt: `${merging ? 'merging; ' : ''}from ${p.global}`, live: true });
  }
  return rows;
}

/** The grid as a table, or undefined for a run that is not data-parallel (or has no round yet). */
export function renderRoundGrid(
  s: RunSnapshot,
  style: Table.TableConstructorOptions = {},
): string | undefined {
  const rows = gridRows(s);
  if (!isParallel(s) || rows.length === 0) return undefined;
  const k = s.progress?.parallel?.shards ?? Math.max(...rows.map((r) => r.cells.length));
  const shards = Array.from({ length: k }, (_, i) => `shard ${i}`);
  const table = new Table({ ...style, head: ['round', ...shards, 'time', 'global checkpoint'] });
  for (const r of rows)
    table.push([String(r.round), ...shards.map((_, i) => r.cells[i] ?? ''), r.time ?? '', r.ckpt]);
  const where = logLocation(rows[0]?.ckpt ?? '');
  const title = `rounds × shards (✓ done, ▶ running b=batch/steps, ⟲ recovering, r = recoveries)`;
  return [title, table.toString(), ...(where ? [`every round: ${where}`] : [])].join('\n');
}

/** The shards of the round in flight on one line, for `watch`: `✓ | ▶ b3/20 | ⟲ r1`. */
export function shardCellsLine(s: RunSnapshot): string | undefined {
  const live = gridRows(s).find((r) => r.live);
  return live ? live.cells.join(' | ') : undefined;
}

/** `s3://b/run/parallel/round=0003/global.ckpt` → `s3://b/run/log/round=*.json` (the run's round log). */
function logLocation(ckpt: string): string | undefined {
  const url = ckpt.replace(/^(merging; )?from /, '');
  const m = /^(.*)\/parallel\/round=\d+\/global\.ckpt$/.exec(url);
  return m ? `${m[1]}/log/round=*.json` : undefined;
}
