// `npm test` checks what the selected tests need from the machine before any test starts: it installs
// Chromium as .ci/run does when it can, or prints one line saying what to run.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CHROMIUM_PATH, ensurePrerequisites } from '../../scripts/test-prerequisites';
import type { MachineProbe } from '../../scripts/test-prerequisites';

const UI_TEST = "import { chromium } from 'playwright-core';\ntest('ui', () => {});";
const PLAIN_TEST = "import { test } from 'node:test';";

/** A fake machine: which paths exist, whether we are root, and what installing does. */
function machine(options: { chromium: boolean; root: boolean; apt?: boolean; installWorks?: boolean }) {
  const paths = new Set(options.chromium ? [CHROMIUM_PATH] : []);
  const ran: string[] = [];
  const probe: MachineProbe = {
    exists: (p) => paths.has(p),
    readFile: (f) => (f.includes('ui') ? UI_TEST : PLAIN_TEST),
    isRoot: () => options.root,
    hasCommand: (name) => name === 'apt-get' && options.apt !== false,
    run: (command) => {
      ran.push(command);
      if (options.installWorks !== false) paths.add(CHROMIUM_PATH);
      return options.installWorks !== false;
    },
    log: () => undefined,
  };
  return { probe, ran };
}

test('nothing to do when the selected tests need no browser', () => {
  const { probe, ran } = machine({ chromium: false, root: false });
  assert.equal(ensurePrerequisites(['test/unit/a.test.ts'], probe), undefined);
  assert.deepEqual(ran, []);
});

test('nothing to do when Chromium is there', () => {
  const { probe, ran } = machine({ chromium: true, root: true });
  assert.equal(ensurePrerequisites(['test/e2e/ui.slow.test.ts'], probe), undefined);
  assert.deepEqual(ran, []);
});

test('as root with apt-get, a missing Chromium is installed the way .ci/run does', () => {
  const { probe, ran } = machine({ chromium: false, root: true });
  assert.equal(ensurePrerequisites(['test/unit/a.test.ts', 'test/e2e/ui.slow.test.ts'], probe), undefined);
  assert.equal(ran.length, 1);
  assert.match(ran[0] as string, /apt-get install -y chromium/);
});

test('not root: one line that says what to run, and no install attempt', () => {
  const { probe, ran } = machine({ chromium: false, root: false });
  const line = ensurePrerequisites(['test/e2e/ui.slow.test.ts'], probe);
  assert.ok(line);
  assert.doesNotMatch(line, /\n/, 'one line');
  assert.match(line, /Chromium at \/usr\/bin\/chromium.*sudo apt-get install -y chromium.*--no-slow/);
  assert.deepEqual(ran, []);
});

test('a failed install (or no apt-get) is reported the same way', () => {
  assert.ok(
    ensurePrerequisites(['ui.test.ts'], machine({ chromium: false, root: true, installWorks: false }).probe),
  );
  assert.ok(ensurePrerequisites(['ui.test.ts'], machine({ chromium: false, root: true, apt: false }).probe));
});
