// What an attempt measures about itself (activities/attempt-clock.ts): queue wait, start-up, training
// time and checkpoint stall, and how far it got.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AttemptClock } from '../../activities/attempt-clock';

test('queue wait, start-up, training and stall of a cold attempt', async () => {
  let now = 1_000;
  const clock = new AttemptClock(40, 800, () => now); // scheduled at 800, started at 1000
  now = 1_300;
  clock.progress(41);
  now = 2_300;
  clock.progress(50);
  await clock.stall(Promise.resolve().then(() => void (now += 150)));
  assert.deepEqual(clock.timing(), {
    fromStep: 40,
    reachedStep: 50,
    queueMs: 200,
    startupMs: 300,
    trainMs: 1_000,
    stallMs: 150,
    at: 2_450,
  });
});

test('a durable checkpoint shows the attempt got at least that far', () => {
  const clock = new AttemptClock(0, 0, () => 5);
  clock.progress(10);
  clock.reachedAtLeast(12);
  clock.reachedAtLeast(3);
  assert.equal(clock.timing().reachedStep, 12);
});
