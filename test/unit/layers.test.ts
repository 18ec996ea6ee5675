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
  ['src/contract/probe.ts', "import { trainModel } from '../../workflows/train-model';", /"engine" layer/],
  ['activities/probe.ts', "import { startTraining } from '../src/client';", /"services" layer/],
  ['activities/probe.ts', "import { trainModel } from '../workflows/train-model';", /"services" layer/],
  ['activities/probe.ts', "import { stackUp } from '../src/stack/stack';", /"services" layer/],
  ['src/training/probe.ts', "import { trainEpoch } from '../../activities/epoch';", /"engine" layer/],
  ['src/training/probe.ts', "import { PREEMPTED } from '../contract';", /"engine" layer/],
  ['src/metrics/probe.ts', "import { Trainer } from '../training/trainer';", /"engine" layer/],
  [
    'src/checkpoint/probe.ts',
    "import { toNamedTensor } from '../training/tensor-bytes';",
    /"checkpoint" layer/,
  ],
  ['src/config/probe.ts', "import { formatCheckpointKey } from '../checkpoint/keys';", /"config" layer/],
  ['src/spec.ts', "import { formatCheckpointKey } from './checkpoint/keys';", /"base" layer/],
  ['src/spec.ts', "import { DEFAULTS } from './config/options';", /"base" layer/],
  [
    'src/storage/probe.ts',
    "import { ObjectCheckpointIO } from '../checkpoint/object-checkpoint-io';",
    /"base" layer/,
  ],
  ['src/storage/probe.ts', "import { DEFAULTS } from '../config/options';", /"base" layer/],
  ['src/security/probe.ts', "import { DEFAULTS } from '../config/options';", /"base" layer/],
  ['src/native/probe.ts', "import { parseSpec } from '../spec';", /"base" layer/],
  ['src/failure-kind.ts', "import type { TrainingState } from './state';", /imports nothing from src/],
  ['src/run-name.ts', "import { parseSpec } from './spec';", /imports nothing from src/],
  ['src/sweep/probe.ts', "import { stackUp } from '../stack/stack';", /"services" layer/],
  ['src/stack/probe.ts', "import { startTraining } from '../client';", /"services" layer/],
  ['src/client.ts', "import { createWorker } from './worker/create-worker';", /"entries" layer/],
  ['src/client.ts', "import { createActivities } from '../activities';", /contract only/],
  ['src/worker/probe.ts', "import { runCli } from '../cli/main';", /"entries" layer/],
  ['src/cli/probe.ts', "import { trainModel } from '../../workflows/train-model';", /through the client/],
  [
    'activities/probe.ts',
    "import { s3ErrorCode } from '../src/storage/minio-adapter';",
    /mapped inside src\/storage/,
  ],
  ['src/checkpoint/probe.ts', "import * as Minio from 'minio';", /only src\/storage talks to minio-js/],
  ['src/cli/probe.ts', "import { createActivities } from '../../activities';", /through the client/],
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
  ['src/checkpoint/probe.ts', "import { DEFAULTS } from '../config/options';\nexport const d = DEFAULTS;"],
  ['src/spec.ts', "import { runNameProblem } from './run-name';\nexport const r = runNameProblem;"],
  [
    'src/config/probe.ts',
    "import { DEFAULT_DEADLINE } from '../storage/deadline';\nexport const d = DEFAULT_DEADLINE;",
  ],
  [
    'src/worker/probe.ts',
    "import { createActivities } from '../../activities';\nexport const c = createActivities;",
  ],
];

for (const [file, source] of rightWay) {
  test(`lint allows, in ${file}: ${source.split('\n')[0]}`, async () => {
    const found = (await problems(file, `${source}\n`)).filter((p) => /restricted/.test(p));
    assert.deepEqual(found, []);
  });
}
