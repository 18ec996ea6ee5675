// Lint rules, including the fence that keeps workflow code deterministic.
import tseslint from 'typescript-eslint';
import importX from 'eslint-plugin-import-x';

const workflowFence = {
  patterns: [
    {
      group: ['@tensorflow/*', 'minio', 'seedrandom', 'mnist', 'zod', 'commander'],
      message: 'workflows/ is deterministic: no I/O or ML libraries here; call an activity instead.',
    },
    {
      group: ['@temporalio/*', '!@temporalio/workflow', '!@temporalio/common'],
      message:
        'workflows/ may import only @temporalio/workflow, @temporalio/common (typed search attributes) and types.',
      allowTypeImports: true,
    },
    {
      group: ['../src/*', '../src/**', '../activities/*', '../activities/**'],
      message: 'workflows/ may import only types from src/ and activities/ (use `import type`).',
      allowTypeImports: true,
    },
  ],
};

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'test-artifacts/**', '.tools/**', 'eslint.config.mjs', 'bin/**'],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins(), patterns: workflowFence.patterns }],
    },
  },
);

function nodeBuiltins() {
  const names = [
    'fs',
    'path',
    'os',
    'child_process',
    'crypto',
    'http',
    'https',
    'net',
    'worker_threads',
    'process',
    'timers',
  ];
  const message = 'workflows/ is deterministic: Node built-ins are not allowed.';
  return names.flatMap((name) => [
    { name, message },
    { name: `node:${name}`, message },
  ]);
}
