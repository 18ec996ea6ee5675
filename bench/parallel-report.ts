/** The report's data-parallel section: per-round costs, the projection to K machines, and quality. */
import type { ParallelResult } from './parallel';
import type { QualityResult } from './parallel-quality';
import type { Summary } from './stats';
import { formatSummary as f } from './stats';

export function parallelSection(p: ParallelResult): string[] {
  const h = p.hparams;
  return [
    '## Data-parallel rounds',
    '',
    `${p.task} (hidden ${String(h.hidden)}, ${String(h.trainSize)} training samples), H = ${p.syncEverySteps} steps of batch ${p.batchSize} per shard per round, plain averaging, no checkpoints inside a round; K shards on K \`durable-fit worker\` processes with one trainer slot each, all on this machine. The first round (cold trainers, nothing to read) is left out. Round = workflow time from starting the shards to recording the merge; shard = the slowest shard's activity (load, H steps and a validation pass, save); merge = the merge activity in workflow time; rest = round − shard − merge (workflow tasks, activity scheduling, round trips). Bytes: the shards read the round's global checkpoint and their own previous result and write their result; the merge reads the global and the K results and writes the next global.`,
    '',
    '| K | rounds | samples/round | round ms (lower is better) | slowest shard ms (lower is better) | merge ms (lower is better) | rest ms (lower is better) | shard checkpoint KB | global KB | KB moved/round: shards read + write (lower is better) | KB moved/round: merge (lower is better) | KB moved/round, all (lower is better) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...p.rows.map(
      (x) =>
        `| ${x.shards} | ${x.rounds} | ${x.samplesPerRound} | ${f(x.roundMs, 0)} | ${f(x.shardMs, 0)} | ${f(x.mergeMs, 0)} | ${f(x.otherMs, 0)} | ${kb(x.shardCkptBytes)} | ${kb(x.globalCkptBytes)} | ${kb(x.shardReadBytes.median)} + ${kb(x.shardWriteBytes.median)} | ${fKb(x.mergeBytes)} | ${fKb(x.totalBytes)} |`,
    ),
    '',
    "**Projected speed-up on K machines: a projection, not a measurement** (this machine has 2 cores, so it cannot train 4 shards at once). One round of K shards trains K × H batches; one worker needs K rounds of K = 1 for the same samples. On K machines each shard trains alone, as K = 1's shard did here, so the projected round = K = 1's median shard time + this K's measured merge + rest (measured with K trainers sharing 2 cores: an upper bound for those parts). Speed-up = projected samples/s ÷ measured samples/s of K = 1.",
    '',
    '| K | measured samples/s, K shards sharing 2 cores (higher is better) | projected round ms on K machines (lower is better) | projected samples/s on K machines (higher is better) | projected speed-up vs K = 1 (higher is better) |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...p.rows.map(
      (x) =>
        `| ${x.shards} | ${x.samplesPerSec.toFixed(0)} | ${x.projectedRoundMs.toFixed(0)} (projection) | ${(x.samplesPerRound / (x.projectedRoundMs / 1000)).toFixed(0)} (projection) | ${x.projectedSpeedup.toFixed(2)}× (projection) |`,
    ),
    '',
    ...qualityBlock(p.quality),
  ];
}

function qualityBlock(q: QualityResult | { skipped: string }): string[] {
  if ('skipped' in q) return ['### Quality', '', `Skipped: ${q.skipped}.`, ''];
  const h = q.hparams;
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  return [
    '### Quality: K shards vs one worker after the same samples',
    '',
    `${q.task} (hidden ${String(h.hidden)}, Adam), ${q.epochs} data epochs of ${String(h.trainSize)} samples, batch ${q.batchSize}, seed fixed; K = ${q.shards} shards merging every H = ${q.syncEverySteps} steps against one worker without \`parallel\`. Both final checkpoints are evaluated by the engine's validation pass on the same ${String(h.valSize)} held-out images. Target: K = ${q.shards} no more than ${q.toleratedPoints} point below one worker. One seed, one run each: a verdict within a few tenths of the line could turn with another seed.`,
    '',
    '| run | rounds | samples seen | validation accuracy (higher is better) | minus one worker, points (higher is better) | target | verdict | wall s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    `| one worker | — | ${q.single.samples} | ${pct(q.single.valAccuracy)} | — | — | — | ${q.single.seconds.toFixed(0)} |`,
    ...q.rows.map(
      (x) =>
        `| K = ${q.shards}, ${x.outer} | ${x.rounds} | ${x.samples} | ${pct(x.valAccuracy)} | ${signed(x.diffPoints)} | ≥ −${q.toleratedPoints} | ${x.met ? 'met' : 'missed'} | ${x.seconds.toFixed(0)} |`,
    ),
    '',
  ];
}

const kb = (bytes: number) => (bytes / 1000).toFixed(0);
const fKb = (s: Summary) =>
  f(
    {
      ...s,
      median: s.median / 1000,
      min: s.min / 1000,
      max: s.max / 1000,
      ciLow: div(s.ciLow),
      ciHigh: div(s.ciHigh),
    },
    0,
  );
const div = (x: number | undefined) => (x === undefined ? undefined : x / 1000);
const signed = (x: number) => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
