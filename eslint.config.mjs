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
 * The layer fence. Every folder and file under src/ (and activities/, workflows/) sits in one layer;
 * a module imports only from layers below its own, never from a sibling in its layer or from above.
 * Bottom to top:
 *
 *   foundation  failure-kind.ts, state.ts, run-name.ts: shared words and shapes; import nothing here
 *   base        storage (the ObjectClient port and its MinIO adapter), security, native, spec.ts
 *   config      settings with their defaults (config/)
 *   checkpoint  the .ckpt format and the verified store, over storage; datasets (data/), over storage
 *   engine      training (tfjs), metrics, contract (what workflows and clients share)
 *   services    activities, workflows, sweep, stack
 *   entries     client.ts (`durable-fit/client`), worker
 *   cli         the `durable-fit` command
 *   api         index.ts (`durable-fit`)
 *
 * Some downward imports are refused as well (`skips` below, and the workflow fence above): workflows
 * see only the contract; the client and the CLI reach workflows and activities by the contract only;
 * the client (and sweeps) validate specs with the task catalog, which loads no tfjs, not the trainer.
 * Folder loops, which a per-file rule cannot see, are checked by test/unit/folder-layers.test.ts,
 * which also holds every entry of src/ to a layer here.
 */
export const LAYERS = [
  { name: 'foundation', members: ['./src/failure-kind.ts', './src/state.ts', './src/run-name.ts'] },
  { name: 'base', members: ['./src/storage', './src/security', './src/native', './src/spec.ts'] },
  { name: 'config', members: ['./src/config'] },
  { name: 'checkpoint', members: ['./src/checkpoint', './src/data'] },
  { name: 'engine', members: ['./src/training', './src/metrics', './src/contract'] },
  { name: 'services', members: ['./activities', './workflows', './src/sweep', './src/stack'] },
  { name: 'entries', members: ['./src/client.ts', './src/worker'] },
  { name: 'cli', members: ['./src/cli'] },
  { name: 'api', members: ['./src/index.ts'] },
];

/** Downward imports refused all the same: a layer that must not reach past another. */
const skips = [
  {
    target: './src/client.ts',
    from: ['./activities', './workflows'],
    message: 'the client knows the workflow by its contract only.',
  },
  {
    target: ['./src/client.ts', './src/sweep'],
    from: './src/training',
    except: ['./tasks/catalog.ts'],
    message:
      'clients validate with the task catalog (src/training/tasks/catalog.ts: descriptors, no tfjs), not the trainer.',
  },
  {
    target: './src/cli',
    from: ['./workflows', './activities'],
    message: 'the CLI goes through the client (and the worker module for `durable-fit worker`).',
  },
];

/** One zone per member: nothing from a layer above, nor from a sibling in its own layer. */
const layers = LAYERS.flatMap((layer, rank) =>
  layer.members.flatMap((target) => {
    const below = LAYERS.slice(0, rank).map((l) => l.name);
    const from = [
      ...LAYERS.slice(rank + 1).flatMap((l) => l.members),
      ...layer.members.filter((m) => m !== target),
    ];
    if (from.length === 0) return []; // the top layer alone
    return {
      target,
      from,
      message:
        `${target.slice(2)} is in the "${layer.name}" layer: it imports ` +
        (below.length ? `only from the layers below it (${below.join(', ')}).` : 'nothing from src/.'),
    };
  }),
);

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
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        { basePath: import.meta.dirname, zones: [...layers, ...skips] },
      ],
    },
  },
  {
    // The ObjectClient port (src/storage/object-client.ts) is the only way to the object store: its
    // errors are typed there, and no S3 error code is read above src/storage.
    files: ['src/**/*.ts', 'activities/**/*.ts'],
    ignores: ['src/storage/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['minio', 'minio/*'], message: 'only src/storage talks to minio-js.' },
            {
              regex: '(^|/)storage/(minio-adapter|s3-error-codes)$',
              importNames: ['s3ErrorCode', 'ACCESS_DENIED_CODES', 'withAccessErrors'],
              message:
                'S3 error codes are mapped inside src/storage: catch the typed errors of storage/object-client.ts.',
            },
          ],
        },
      ],
    },
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
