/**
 * `leaky-crash`: the `synthetic` task, except that its first batch prints secrets to stderr and the
 * trainer process dies. The secret comes from the file named by `DFIT_TEST_LEAK_FILE` (the child has
 * no credential in its environment to print), as a task that echoes a mounted secret would. Loaded
 * as a task module by the secrets test's worker and its trainer process.
 */
import fs from 'node:fs';
import { registerTask } from '../../src/training/tasks';
import { syntheticTask } from '../../src/training/tasks/synthetic';
import type { TaskDefinition } from '../../src/training/tasks';

/** Environment variable naming the file that holds the secret to leak. */
export const LEAK_FILE_ENV = 'DFIT_TEST_LEAK_FILE';
/** A credential the worker was never configured with: only its shape can give it away. */
export const UNCONFIGURED_TOKEN = 'tok-4f1d9c2b7e6a5d3c';

function leakAndDie(): never {
  const file = process.env[LEAK_FILE_ENV];
  const secret = file ? fs.readFileSync(file, 'utf8').trim() : 'no-leak-file';
  const hasSecret = Object.values(process.env).some((v) => v?.includes(secret));
  process.stderr.write(
    [
      `leak-marker: the S3 secret is ${secret}`,
      `child-env-holds-it: ${hasSecret ? 'yes' : 'no'}`,
      `AWS_SECRET_ACCESS_KEY=${secret}`,
      `{"api_token": "${UNCONFIGURED_TOKEN}"}`,
      `Authorization: Bearer ${UNCONFIGURED_TOKEN}`,
      'leak-end',
      '',
    ].join('\n'),
  );
  process.exit(3);
}

export const leakyCrashTask: TaskDefinition<typeof syntheticTask.hparams> = {
  ...syntheticTask,
  name: 'leaky-crash',
  description: 'synthetic, whose trainer prints secrets and dies at the first batch (tests only)',
  loss: () => leakAndDie(),
};

registerTask(leakyCrashTask);
