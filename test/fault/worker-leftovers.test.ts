// Leftovers of a SIGKILLed worker on the machine (issue 22 item 6): its trainers' transfer folders
// stay in the temp folder; the next worker to start there removes them, and a worker that stops
// normally leaves nothing. Real worker processes with a temp folder of this test's own (TMPDIR).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { testEnv } from '../helpers/training';
import { WorkerFleet } from '../helpers/worker-fleet';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-leftovers-'));
const fleet = new WorkerFleet(
  { ...testEnv(), TMPDIR: tmp },
  `leftovers-${process.pid}`,
  `test-artifacts/leftovers/${process.pid}`,
);
after(async () => {
  await fleet.stopAll();
  fs.rmSync(tmp, { recursive: true, force: true });
});

/** What durable-fit keeps in the temp folder (tools such as tsx keep caches there too). */
const ours = () => fs.readdirSync(tmp).filter((name) => name.startsWith('dfit-'));

test("a SIGKILLed worker's transfer folders are removed when the next worker starts", async () => {
  const first = await fleet.start(); // its trainer starts at once, with its transfer folder
  assert.notDeepEqual(ours(), [], 'a running worker has a transfer folder');
  await fleet.kill(first.identity, 'SIGKILL');
  const left = ours();
  assert.notDeepEqual(left, [], 'a SIGKILLed worker leaves it behind');

  const second = await fleet.start();
  const now = ours();
  for (const name of left) assert.ok(!now.includes(name), `${name} was removed; now: ${now.join(', ')}`);
  assert.notDeepEqual(now, [], "the new worker's own folder");

  await fleet.kill(second.identity, 'SIGTERM');
  assert.deepEqual(ours(), [], 'a worker that stops normally leaves nothing');
});
