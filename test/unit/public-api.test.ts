/**
 * The public API is explicit: src/index.ts names every export (no `export *`, which leaked internals),
 * the list below is what `durable-fit` exports at run time (adding or dropping a name is a decision
 * made here too), and every name the README, docs/, examples/ and the package test import from
 * 'durable-fit' is exported.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import ts from 'typescript';
import * as api from '../../src';

const root = path.resolve(__dirname, '../..');
const indexFile = path.join(root, 'src/index.ts');

const VALUES = [
  // settings, spec, client
  'DEFAULTS',
  'redactOptions',
  'resolveOptions',
  'temporalConnectConfig',
  'InvalidSpecError',
  'parseSpec',
  'trainingSpecSchema',
  'connectClient',
  'defaultWorkflowId',
  'startTraining',
  'validateSpecInput',
  'checkpointNowSignal',
  'controlsQuery',
  'pauseSignal',
  'progressQuery',
  'resumeSignal',
  'stopSignal',
  // workers, security, metrics, routing
  'DurableTrainingPlugin',
  'createWorker',
  'createProcessEngine',
  'dataConverterFor',
  'encryptionDataConverter',
  'AesGcmPayloadCodec',
  'ENCRYPTED_ENCODING',
  'EncryptionKeyError',
  'EncryptionKeysMissingError',
  'KEY_ID_METADATA',
  'PayloadDecryptionError',
  'UnknownEncryptionKeyError',
  'loadEncryptionKeys',
  'startCodecServer',
  'HISTOGRAM_BUCKETS',
  'createMeterRecorder',
  'installRuntimeWithMetrics',
  'backendFingerprint',
  'backendQueue',
  'chooseRoute',
  'workerRoute',
  // checkpoints
  'ObjectCheckpointIO',
  'ObjectRunFolder',
  'createRunFolder',
  'createStorage',
  'createStore',
  's3Connection',
  'decodeCheckpoint',
  'encodeCheckpoint',
  'readCheckpointHeader',
  'registerS3IOHandlers',
  'selectForDeletion',
  'selectForKeeping',
  'CheckpointCorruptError',
  'CheckpointCursorMismatchError',
  'CheckpointError',
  'CheckpointExistsError',
  'CheckpointIsPrefixError',
  'CheckpointKeyConflictError',
  'CheckpointNotFoundError',
  'CheckpointSignatureError',
  'CheckpointTooLargeError',
  'CheckpointUnsignedError',
  'IncompatibleTopologyError',
  'InvalidCheckpointStateError',
  'InvalidCheckpointUrlError',
  'InvalidRunNameError',
  'NotACkptError',
  'RunFolderTakenError',
  'UnsupportedFormatVersionError',
  'FAILURE_KINDS',
  'classifyError',
  // tasks
  'registerTask',
  'defineTask',
  'describeTask',
  'registerTaskDescriptor',
  'getTask',
  'getTaskDescriptor',
  'listTasks',
  'validateHparams',
  'taskMetricNames',
  'createSeedSequence',
  'accuracy',
  'oneHotRows',
  'softmaxCrossEntropy',
  'syntheticTask',
  'mnistMlpTask',
  'mnistCnnTask',
  'digitsResnetTask',
  'syntheticDescriptor',
  'mnistMlpDescriptor',
  'mnistCnnDescriptor',
  'digitsResnetDescriptor',
  // the engine
  'BACKEND_REQUESTS',
  'isBackendRequest',
  'listInstalledBackends',
  'selectBackend',
  'TrainingSession',
  'RunControl',
  'runSession',
  'captureState',
  'finalizeState',
  'restoreState',
  'Trainer',
  'TrainerProcess',
  'computeWeightsSha256',
  'BackendUnavailableError',
  'BackendUnsupportedError',
  'IncompatibleStateError',
  'InvalidHparamsError',
  'InvalidRunConfigError',
  'TaskDefinitionError',
  'TrainerBusyError',
  'TrainerCrashedError',
  'TrainerHungError',
  'TrainerRemoteError',
  'TrainingEngineError',
  'UnknownTaskError',
  // the workflow's contract, sweeps
  'SEARCH_ATTRIBUTES',
  'TRAIN_MODEL',
  'defaultSweepId',
  'startSweep',
  'sweepProgress',
  'validateSweepInput',
  'sweepProgressQuery',
  'SWEEP_ID',
  'SWEEP_METRIC',
  'TRIAL_RUNG',
];

/** Every name src/index.ts exports, types included, read from its export declarations. */
function declaredExports(): { names: string[]; star: string[] } {
  const source = ts.createSourceFile(indexFile, fs.readFileSync(indexFile, 'utf8'), ts.ScriptTarget.ES2022);
  const names: string[] = [];
  const star: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isExportDeclaration(statement)) continue;
    const from = statement.moduleSpecifier?.getText(source) ?? '';
    if (!statement.exportClause) star.push(`export * from ${from}`);
    else if (ts.isNamespaceExport(statement.exportClause)) star.push(`export * as … from ${from}`);
    else names.push(...statement.exportClause.elements.map((e) => e.name.text));
  }
  return { names, star };
}

/** Names imported from 'durable-fit' (not a subpath) by a document or example. */
function importedNames(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const lists = [
    ...text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+['"]durable-fit['"]/g),
    ...text.matchAll(/\{([^}]*)\}\s*=\s*require\(\s*['"]durable-fit['"]\s*\)/g),
  ];
  return lists.flatMap((m) =>
    (m[1] as string)
      .split(',')
      .map(
        (part) =>
          part
            .trim()
            .replace(/^type\s+/, '')
            .split(/\s+as\s+/)[0] as string,
      )
      .filter(Boolean),
  );
}

function filesUnder(dir: string, ext: string): string[] {
  return fs
    .readdirSync(path.join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(ext))
    .map((e) => path.join(e.parentPath, e.name));
}

test('src/index.ts names every export: no export *', () => {
  const { names, star } = declaredExports();
  assert.deepEqual(star, []);
  assert.deepEqual(
    names.filter((n, i) => names.indexOf(n) !== i),
    [],
    'exported twice',
  );
});

test('durable-fit exports exactly the listed values', () => {
  assert.deepEqual(Object.keys(api).sort(), [...VALUES].sort());
  assert.ok(api.listTasks().includes('mnist-mlp'));
});

test("every name the README, docs, examples and the package test import from 'durable-fit' is exported", () => {
  const { names } = declaredExports();
  const files = [
    path.join(root, 'README.md'),
    ...filesUnder('docs', '.md'),
    ...filesUnder('examples', '.ts'),
    ...fs
      .readdirSync(path.join(root, 'test/e2e'))
      .filter((f) => /^package.*\.ts$/.test(f))
      .map((f) => path.join(root, 'test/e2e', f)),
  ];
  const used = new Map<string, string>();
  for (const file of files) for (const name of importedNames(file)) used.set(name, path.relative(root, file));
  for (const name of ['DurableTrainingPlugin', 'createProcessEngine', 'createStore', 'registerTask']) {
    assert.ok(used.has(name), `${name} is found imported (the scan works)`);
  }
  const missing = [...used].filter(([name]) => !names.includes(name)).map(([n, f]) => `${n} (${f})`);
  assert.deepEqual(missing, [], "imported from 'durable-fit' but not exported");
  for (const [name] of used) {
    if (name in api) continue;
    assert.ok(/^[A-Z]/.test(name), `${name}: a value that is only a type export`);
  }
});

test('internals stay out of the public API', () => {
  for (const name of ['CRASH_TAIL_MAX', 'diffTopology', 'canonicalJson', 'captureRawState', 'TrainerJob']) {
    assert.ok(!(name in api), `${name} is not exported`);
  }
});

test('the training workflow implements its contract signature', async () => {
  const { trainModel } = await import('../../workflows');
  const typed: api.TrainModel = trainModel; // a compile-time check: tsc fails when they drift
  assert.equal(typed.name, api.TRAIN_MODEL);
});
