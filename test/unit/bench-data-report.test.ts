// docs/benchmarks.md gets the data bench's section (issue 23 item 5): BenchResults.data renders
// through renderDataSection (bench/data.ts) among the report's sections; without it, no section.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DataBenchResult } from '../../bench/data';
import { renderMarkdown } from '../../bench/report';
import type { BenchResults } from '../../bench/results';

const results: BenchResults = {
  machine: {
    date: '2026-12-07',
    cpu: 'test cpu',
    cores: 2,
    memoryGb: 8,
    loadAverage: [1, 1, 1],
    node: 'v20',
    os: 'linux',
    versions: {},
    backend: 'cpu',
    mode: 'quick',
  },
  errors: {},
  durationS: 1,
};
const data: DataBenchResult = {
  import: [{ format: 'csv', inputMb: 52.8, rows: 100_000, seconds: 15.2, mbPerS: 3.47, rowsPerS: 6579 }],
  pipeline: { dataset: 'mnist', rows: 10_000, batchSize: 32, windowMb: 64, samplesPerS: 3902.4 },
  memory: [
    {
      datasetMb: 256,
      shards: 32,
      windowMb: 64,
      rssGrowthMb: 68.2,
      peakWindowMb: 40.4,
      resumeFirstBatchMs: 156.3,
      resumeShardsFetched: 9,
    },
  ],
};

test('the data bench has a section of its own in docs/benchmarks.md', () => {
  assert.doesNotMatch(renderMarkdown(results), /## Datasets streamed from the bucket/);
  const md = renderMarkdown({ ...results, data });
  assert.match(md, /## Datasets streamed from the bucket/);
  assert.match(md, /\| csv \| 52\.8 \| 100000 \| 15\.20 \| 3\.5 \| 6579 \|/);
  assert.match(md, /Input pipeline: 3902 samples\/s \(mnist, 10000 rows, batch 32, window 64 MB\)/);
  assert.match(md, /\| 256 \| 32 \| 64 \| 68 \| 40 \| 156 \| 9 \|/);
});
