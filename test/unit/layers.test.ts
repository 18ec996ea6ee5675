/**
 * The lint fence keeps the layers one way (eslint.config.mjs): each case is an import that runs the
 * wrong way, linted as if it were in the file named, and must be refused; the allowed direction
 * must pass. Type-aware rules are off here: the probes are not part of the TypeScript project.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { ESLint } from 'eslint';

const root = path.resolve(__dirname, '../..');
const eslint = new ESLint({
  cwd: root,
  overrideConfig: {
    languageOptions: { parserOptions: { projectService: false } },
    rules: { '@typescript-eslint/no-floating-promises': 'off' },
  },
});

async function problems(file: string, source: string): Promise<string[]> {
  const [result] = await eslint.lintText(source, { filePath: path.join(root, file) });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

const wrongWay: [string, string, RegExp][] = [
  ['workflows/probe.ts', "import { createActivities } from '../activities';", /only the contract/],
  ['workflows/probe.ts', "import type { ActivityDeps } from '../activities';", /only the contract/],
  ['workflows/probe.ts', "import { parseSpec } from '../src/spec';", /only the contract/],
  ['src/contract/probe.ts', "import { parseSpec } from '../spec';", /only types/],
  [
    'src/contract/probe.ts',
    "import { trainModel } from '../../workflows/train-model';",
    /imports none of them/,
  ],
  ['activities/probe.ts', "import { startTraining } from '../src/client';", /activities sit below/],
  ['activities/probe.ts', "import { trainModel } from '../workflows/train-model';", /activities sit below/],
  ['src/training/probe.ts', "import { trainEpoch } from '../../activities/epoch';", /training sits below/],
  [
    'src/checkpoint/probe.ts',
    "import { toNamedTensor } from '../training/tensor-bytes';",
    /checkpoint sits below/,
  ],
  ['src/storage/probe.ts', "import { CheckpointStore } from '../checkpoint/store';", /storage is the bottom/],
  ['src/client.ts', "import { createWorker } from './worker/create-worker';", /contract only/],
  ['src/cli/probe.ts', "import { trainModel } from '../../workflows/train-model';", /through the client/],
];

for (const [file, source, expected] of wrongWay) {
  test(`lint refuses, in ${file}: ${source}`, async () => {
    const found = await problems(file, `${source}\nexport const probe = 1;\n`);
    assert.ok(
      found.some((p) => expected.test(p)),
      `expected a layer error matching ${expected}, got: ${found.join('; ') || 'none'}`,
    );
  });
}

const rightWay: [string, string][] = [
  ['workflows/probe.ts', "import { pauseSignal } from '../src/contract';\nexport const s = pauseSignal;"],
  ['src/contract/probe.ts', "import type { TrainingSpec } from '../spec';\nexport type S = TrainingSpec;"],
  ['activities/probe.ts', "import { PREEMPTED } from '../src/contract';\nexport const p = PREEMPTED;"],
  ['src/cli/probe.ts', "import { startTraining } from '../client';\nexport const s = startTraining;"],
  ['src/checkpoint/probe.ts', "import { MODEL_PREFIX } from '../state';\nexport const m = MODEL_PREFIX;"],
];

for (const [file, source] of rightWay) {
  test(`lint allows, in ${file}: ${source.split('\n')[0]}`, async () => {
    const found = (await problems(file, `${source}\n`)).filter((p) => /restricted/.test(p));
    assert.deepEqual(found, []);
  });
}
