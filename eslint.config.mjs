// Lint rules, including the fence that keeps workflow code deterministic.
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

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
      group: [
        '../src/*',
        '../src/**',
        '!../src/contract',
        '!../src/contract/*',
        '../activities',
        '../activities/**',
      ],
      message:
        'workflows/ may import only the contract (src/contract): types, signals, queries, search attributes.',
    },
  ],
};

/**
 * One-way layers: cli → client → contract ← workflows, and worker → activities → training →
 * checkpoint → storage (activities also → contract). Each zone lists what a layer may NOT import.
 */
const CLIENT_AND_UP = ['./src/cli', './src/client.ts', './src/worker'];
const layers = [
  {
    target: './src/contract',
    from: [
      './workflows',
      './activities',
      ...CLIENT_AND_UP,
      './src/training',
      './src/checkpoint',
      './src/storage',
      './src/stack',
      './src/native',
    ],
    message: 'the contract is imported by client, workflows and activities, and imports none of them.',
  },
  {
    target: './activities',
    from: ['./workflows', ...CLIENT_AND_UP, './src/stack'],
    message: 'activities sit below workflows, client, CLI and worker.',
  },
  {
    target: './src/training',
    from: ['./activities', './workflows', './src/contract', ...CLIENT_AND_UP],
    message: 'training sits below activities and the contract.',
  },
  {
    target: './src/checkpoint',
    from: ['./src/training', './activities', './workflows', './src/contract', ...CLIENT_AND_UP],
    message: 'checkpoint sits below training.',
  },
  {
    target: './src/storage',
    from: [
      './src/checkpoint',
      './src/training',
      './activities',
      './workflows',
      './src/contract',
      ...CLIENT_AND_UP,
    ],
    message: 'storage is the bottom layer.',
  },
  {
    target: './src/client.ts',
    from: ['./src/cli', './src/worker', './activities', './workflows'],
    message: 'the client knows the workflow by its contract only.',
  },
  {
    target: './src/cli',
    from: ['./workflows', './activities'],
    message: 'the CLI goes through the client (and the worker module for `durable-fit worker`).',
  },
  { target: './src/worker', from: ['./src/cli'], message: 'the worker does not depend on the CLI.' },
];

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'test-artifacts/**', '.tools/**', 'eslint.config.mjs', 'bin/**'],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { 'import-x': importX },
    // Without a resolver import-x cannot follow extensionless TypeScript imports: no-cycle and the
    // layer zones would pass silently.
    settings: { 'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'] })] },
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
    files: ['src/**/*.ts', 'activities/**/*.ts', 'workflows/**/*.ts'],
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layers }] },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: nodeBuiltins(), patterns: workflowFence.patterns }],
    },
  },
  {
    // The contract is bundled into the workflow sandbox with the workflows: the same determinism fence.
    files: ['src/contract/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins(),
          patterns: [
            ...workflowFence.patterns.slice(0, 2),
            {
              regex: '^\\.\\./',
              message: 'src/contract imports only types from the rest of src/.',
              allowTypeImports: true,
            },
          ],
        },
      ],
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
