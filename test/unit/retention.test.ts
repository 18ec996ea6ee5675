// Retention: for random checkpoint records and policies the kept set is exactly what the policy says
// (checked against an independent formulation), and the resume target / in-flight never go.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { RetentionPolicy, RetentionRecord } from '../../src/checkpoint/retention-policy';
import { selectForDeletion, selectForKeeping } from '../../src/checkpoint/retention-policy';

const recordsArb = fc
  .uniqueArray(fc.tuple(fc.nat({ max: 20 }), fc.nat({ max: 50 })), {
    selector: ([e, s]) => `${e}:${s}`,
    maxLength: 25,
  })
  .chain((positions) =>
    fc.tuple(
      ...positions.map(([epoch, step]) =>
        fc
          .tuple(
            fc.option(
              fc.oneof(
                fc.integer({ min: -5, max: 5 }).map((n) => n / 2),
                fc.constant(NaN),
              ),
              { nil: undefined },
            ),
            fc.boolean(),
          )
          .map(([loss, intraEpoch]): RetentionRecord => ({
            url: `s3://b/r/epoch=${epoch}-step=${step}.ckpt`,
            epoch,
            step,
            metrics: loss === undefined ? {} : { loss },
            ...(intraEpoch ? { intraEpoch } : {}),
          })),
      ),
    ),
  );

const policyArb: fc.Arbitrary<RetentionPolicy> = fc.record(
  {
    keepLast: fc.nat({ max: 6 }),
    topK: fc.record({
      k: fc.nat({ max: 6 }),
      monitor: fc.constant('loss'),
      mode: fc.constantFrom('min' as const, 'max' as const),
    }),
    pinned: fc.array(fc.string(), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

/** Independent oracle: a record is among the first K of an order iff fewer than K others precede it. */
function oracleKept(
  records: RetentionRecord[],
  policy: RetentionPolicy,
  resume?: string,
  inFlight: string[] = [],
): Set<string> {
  if (policy.keepLast === undefined && policy.topK === undefined) return new Set(records.map((r) => r.url));
  const newer = (a: RetentionRecord, b: RetentionRecord) =>
    a.epoch > b.epoch || (a.epoch === b.epoch && a.step > b.step);
  const kept = new Set<string>();
  const ends = records.filter((r) => !r.intraEpoch);
  for (const r of records) {
    const protectedUrl =
      r.url === resume || inFlight.includes(r.url) || (policy.pinned ?? []).includes(r.url);
    if (r.intraEpoch) {
      if (protectedUrl || ends.every((o) => newer(r, o))) kept.add(r.url);
      continue;
    }
    const inLast = ends.filter((o) => newer(o, r)).length < (policy.keepLast ?? 0);
    const isNewestEnd = ends.every((o) => o === r || !newer(o, r));
    let inTop = policy.topK !== undefined && isNewestEnd;
    const topK = policy.topK;
    const v = r.metrics?.loss;
    if (topK && v !== undefined && Number.isFinite(v)) {
      const better = (o: RetentionRecord) => {
        const w = o.metrics?.loss;
        if (o.intraEpoch || w === undefined || !Number.isFinite(w)) return false;
        if (w !== v) return topK.mode === 'min' ? w < v : w > v;
        return newer(o, r);
      };
      inTop ||= ends.filter(better).length < topK.k;
    }
    if (protectedUrl || inLast || inTop) kept.add(r.url);
  }
  return kept;
}

describe('retention', () => {
  test('kept set equals the policy (oracle) and deletion is its exact complement', () => {
    fc.assert(
      fc.property(recordsArb, policyArb, fc.nat(), fc.nat(), (records, policy, resumeIdx, flightIdx) => {
        const resume = records.length ? records[resumeIdx % records.length]!.url : undefined;
        const inFlight = records.length ? [records[flightIdx % records.length]!.url] : [];
        const kept = selectForKeeping(records, policy, { resumeTarget: resume, inFlight });
        assert.deepEqual([...kept].sort(), [...oracleKept(records, policy, resume, inFlight)].sort());
        const deleted = selectForDeletion(records, policy, { resumeTarget: resume, inFlight });
        assert.deepEqual(new Set([...deleted, ...kept]), new Set(records.map((r) => r.url)));
        assert.ok(deleted.every((url) => !kept.has(url)));
        if (resume) assert.ok(!deleted.includes(resume), 'resume target deleted');
        for (const url of inFlight) assert.ok(!deleted.includes(url), 'in-flight checkpoint deleted');
      }),
      { numRuns: 2000 },
    );
  });

  test('over a run that keeps appending checkpoints, the resume target (the newest) is never lost', () => {
    fc.assert(
      fc.property(recordsArb, policyArb, (records, policy) => {
        const sorted = [...records].sort((a, b) => a.epoch - b.epoch || a.step - b.step);
        let alive: RetentionRecord[] = [];
        for (const r of sorted) {
          alive.push(r);
          const gone = new Set(selectForDeletion(alive, policy, { resumeTarget: r.url }));
          assert.ok(!gone.has(r.url));
          alive = alive.filter((a) => !gone.has(a.url));
          assert.ok(alive.some((a) => a.url === r.url));
        }
      }),
      { numRuns: 500 },
    );
  });

  test('examples: keep-last, top-k min/max, pinned, no policy keeps all', () => {
    const rec = (epoch: number, loss: number): RetentionRecord => ({
      url: `u${epoch}`,
      epoch,
      step: epoch * 10,
      metrics: { loss },
    });
    const records = [rec(0, 0.9), rec(1, 0.3), rec(2, 0.5), rec(3, 0.7)];
    assert.deepEqual(selectForDeletion(records, { keepLast: 1 }), ['u0', 'u1', 'u2']);
    // top-k keeps the best k plus the newest (Lightning's save_top_k with save_last).
    assert.deepEqual(selectForDeletion(records, { topK: { k: 1, monitor: 'loss', mode: 'min' } }), [
      'u0',
      'u2',
    ]);
    assert.deepEqual(selectForDeletion(records, { topK: { k: 1, monitor: 'loss', mode: 'max' } }), [
      'u1',
      'u2',
    ]);
    assert.deepEqual(
      selectForDeletion(records, {
        keepLast: 1,
        topK: { k: 1, monitor: 'loss', mode: 'min' },
        pinned: ['u0'],
      }),
      ['u2'],
    );
    assert.deepEqual(selectForDeletion(records, {}), []);
    assert.deepEqual(selectForDeletion(records, { keepLast: 0 }, { resumeTarget: 'u2' }), ['u0', 'u1', 'u3']);
  });

  test('intra-epoch checkpoints of completed epochs go; those of the epoch under way and the resume target stay', () => {
    const end = (epoch: number): RetentionRecord => ({ url: `e${epoch}`, epoch, step: epoch * 10 });
    const mid = (epoch: number, batch: number): RetentionRecord => ({
      url: `m${epoch}.${batch}`,
      epoch,
      step: epoch * 10 + batch,
      intraEpoch: true,
    });
    const records = [mid(0, 3), mid(0, 6), end(1), mid(1, 4), end(2), mid(2, 5), mid(2, 8)];
    assert.deepEqual(selectForDeletion(records, { keepLast: 5 }), ['m0.3', 'm0.6', 'm1.4']);
    assert.deepEqual(selectForDeletion(records, { keepLast: 1 }, { resumeTarget: 'm1.4' }), [
      'm0.3',
      'm0.6',
      'e1',
    ]);
    assert.deepEqual(selectForDeletion(records, {}), [], 'no policy: everything is kept');
    // Before any epoch ended, every intra-epoch checkpoint belongs to the epoch under way.
    assert.deepEqual(selectForDeletion([mid(0, 3), mid(0, 6)], { keepLast: 1 }), []);
  });
});
