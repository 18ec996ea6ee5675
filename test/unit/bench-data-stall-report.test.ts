// The data section of docs/benchmarks.md renders the input-stall figures (bench/data-stall.ts):
// a row per model with medians and ranges and the load average, or why they were not measured.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataBenchResult } from '../../bench/data';
import { renderDataSection } from '../../bench/data';
import type { DataStallRow } from '../../bench/data-stall';
import { summarize } from '../../bench/stats';

const base: DataBenchResult = {
  import: [],
  pipeline: { dataset: 'mnist', rows: 10_000, batchSize: 32, windowMb: 64, samplesPerS: 20_000 },
  memory: [],
};
const row: DataStallRow = {
  model: 'digits-resnet',
  backend: 'tensorflow-graph',
  rows: 8000,
  shards: 8,
  shardRows: 1000,
  batchSize: 32,
  windowMb: 64,
  steps: 250,
  memoryEpochS: summarize([8.2, 8.0, 8.5]),
  streamedEpochS: summarize([8.6, 7.8, 9.6]),
  memoryStepsPerS: summarize([30.5, 29.5, 31.4]),
  streamedStepsPerS: summarize([29.2, 26.1, 32.1]),
  memorySamplesPerS: summarize([975, 943, 1006]),
  streamedSamplesPerS: summarize([935, 835, 1028]),
  pipelineSamplesPerS: summarize([22_784, 14_532, 31_402]),
  stallPct: summarize([0.62, 0.57, 0.68]),
  epochDiffPct: summarize([0.8, -2.2, 14.3]),
  transformPct: summarize([0.15, 0.12, 0.25]),
  loadAverage: [11.7, 15.8],
};

test('the stall rows render with medians, ranges and the load average', () => {
  const md = renderDataSection({ ...base, stall: { rows: [row] } });
  assert.match(md, /### Input stall against the native step rate/);
  assert.match(md, /on `tensorflow-graph`/);
  assert.match(
    md,
    /\| digits-resnet \| 8000 \| 30\.5 \(29\.5–31\.4\) \| 29\.2 \(26\.1–32\.1\) \| 975 \(943–1006\) \| 935 \(835–1028\) \| 22784 \(14532–31402\) \| 0\.6 \(0\.6–0\.7\) \| 0\.8 \(-2\.2–14\.3\) \| 11\.7 → 15\.8 \|/,
  );
});

test('without native TensorFlow the section says why there are no stall figures', () => {
  const md = renderDataSection({
    ...base,
    stall: { rows: [], skipped: 'native TensorFlow is not built here' },
  });
  assert.match(md, /Not measured: native TensorFlow is not built here\./);
  assert.doesNotMatch(
    renderDataSection(base),
    /Input stall/,
    'reports from before the stall figures render as before',
  );
});

test('repeated imports and pipeline passes render their median with the range', () => {
  const md = renderDataSection({
    ...base,
    import: [
      {
        format: 'csv',
        inputMb: 52.8,
        rows: 100_000,
        seconds: 2.5,
        mbPerS: 21.1,
        rowsPerS: 40_000,
        secondsRange: [2.1, 3.2],
      },
    ],
    pipeline: { ...base.pipeline, range: [9000, 31_000], passes: 3 },
  });
  assert.match(md, /\| csv \| 52\.8 \| 100000 \| 2\.50 \| 21\.1 \| 40000 \| 2\.10–3\.20 \|/);
  assert.match(
    md,
    /Input pipeline: 20000 samples\/s \(mnist, 10000 rows, batch 32, window 64 MB\): the median of 3 passes after a warm-up pass \(9000–31000\)/,
  );
});
