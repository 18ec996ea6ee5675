// A recovery names the object store (site) the attempt that resumed it used, once that attempt's
// epoch ends: after the primary site is lost, the replica's endpoint (test/cluster/replica-site).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RunRecord } from '../../src/contract';
import { parseSpec } from '../../src/spec';
import { noteRecoverySite, recordRecovery } from '../../workflows/record-update';

function record(): RunRecord {
  const spec = parseSpec({ task: 'synthetic', epochs: 3, seed: 1 }, 'run');
  return { spec, checkpoints: [], epochs: [], recoveries: [], unusable: [] };
}
const crash = (atEpoch: number) => ({
  kind: 'crash' as const,
  reason: 'x',
  atEpoch,
  atBatch: 5,
  fromCkpt: 'u',
});

test("the epoch's recovery records the site of the attempt that finished it, once", () => {
  const r = record();
  recordRecovery(r, crash(1));
  noteRecoverySite(r, 1, 'http://replica:9000');
  noteRecoverySite(r, 1, 'http://elsewhere:9000'); // a later note never overwrites it
  assert.equal(r.recoveries.at(-1)?.site, 'http://replica:9000');
});

test("another epoch's end, or no recovery, leaves the record as it is", () => {
  const r = record();
  noteRecoverySite(r, 0, 'http://primary:9000');
  assert.equal(r.recoveries.length, 0);
  recordRecovery(r, crash(1));
  noteRecoverySite(r, 2, 'http://primary:9000');
  assert.equal(r.recoveries.at(-1)?.site, undefined, 'a recovery at epoch 1 is not named by epoch 2');
});
