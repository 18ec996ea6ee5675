/**
 * A sweep as text for `durable-fit sweep status`: a table of trials (hparams, epochs done, metric,
 * state) and a small plot of each trial's metric over its epochs, one row of bars per trial, on one
 * scale for all trials so rows compare.
 */
import type { SweepProgress, TrialRecord } from '../contract/sweep';

const BARS = '▁▂▃▄▅▆▇█';

export function renderSweep(p: SweepProgress): string {
  const head =
    `${p.status} · ${p.search} · phase ${p.phase} · ${p.trials.length} trials · ${p.epochsTrained} epochs trained · ` +
    `ranked by ${p.metric} (${p.mode})`;
  const best = p.best
    ? `best: ${p.best.trial} ${p.metric}=${fmt(p.best.metric)} ${JSON.stringify(p.best.hparams)}\n      ${p.best.finalCheckpoint.url}`
    : 'best: none yet';
  const lineage = p.lineage.map(
    (l) =>
      `  gen ${l.generation}: ${l.trial} ← ${l.from} (${fmt(l.fromMetric)} vs ${fmt(l.metric)}) ${JSON.stringify(l.hparams)}`,
  );
  return [
    head,
    '',
    trialsTable(p),
    '',
    `${p.metric} per epoch (${p.mode === 'min' ? 'lower' : 'higher'} is better; ▁ lowest … █ highest):`,
    metricPlot(p.trials),
    ...(lineage.length ? ['', 'lineage (forks):', ...lineage] : []),
    '',
    best,
  ].join('\n');
}

export function trialsTable(p: SweepProgress): string {
  const names = [...new Set(p.trials.flatMap((t) => Object.keys(t.hparams)))];
  const header = ['trial', ...names, 'epochs', p.metric, 'state'];
  const rows = p.trials.map((t) => [
    t.id + (p.best?.trial === t.id ? ' *' : ''),
    ...names.map((n) => fmtValue(t.hparams[n])),
    String(t.epochsDone),
    fmt(t.metric),
    stateOf(t, p),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** A trial forked in PBT shows as exploited (from whom) for the rest of the sweep. */
function stateOf(t: TrialRecord, p: SweepProgress): string {
  const forks = p.lineage.filter((l) => l.trial === t.id);
  const last = forks[forks.length - 1];
  return last && t.state !== 'failed'
    ? `${t.state}, exploited ×${forks.length} (last from ${last.from})`
    : t.state;
}

export function metricPlot(trials: readonly TrialRecord[]): string {
  const values = trials.flatMap((t) => t.history.map(([, v]) => v)).filter(Number.isFinite);
  if (values.length === 0) return '  (no finished epochs yet)';
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const bar = (v: number) =>
    BARS[hi === lo ? 0 : Math.round(((v - lo) / (hi - lo)) * (BARS.length - 1))] ?? ' ';
  return trials
    .map((t) => {
      const cells: string[] = [];
      for (const [epoch, v] of t.history) cells[epoch - 1] = bar(v);
      const row = Array.from({ length: cells.length }, (_, i) => cells[i] ?? ' ').join('');
      return `  ${t.id} ${row.padEnd(12)} ${fmt(t.metric)}`;
    })
    .join('\n');
}

function fmt(v: number | undefined): string {
  return v === undefined || !Number.isFinite(v) ? '-' : Number(v.toPrecision(4)).toString();
}

function fmtValue(v: unknown): string {
  return typeof v === 'number' ? Number(v.toPrecision(4)).toString() : v === undefined ? '-' : String(v);
}
