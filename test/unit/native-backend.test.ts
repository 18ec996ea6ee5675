/**
 * The native TensorFlow backend as the engine meets it (skipped locally when not built, failing in
 * CI): `auto` picks it in graph mode (`tensorflow-graph`), `tensorflow-gpu` fails over cleanly without a GPU build or device, the
 * recorded versions carry what changes the bits, two processes agree bit for bit, and a different
 * intra-op thread count — measured to change the bits — gets another routing fingerprint.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { GRAPH_STEP_VERSION, currentBackendInfo, selectBackend } from '../../src/training/backend';
import { BackendUnavailableError } from '../../src/training/errors';
import type { RunConfig } from '../../src/training/session';
import { TrainerProcess } from '../../src/training/trainer-process';
import { TF_VERSION } from '../../src/native';
import { backendFingerprint, chooseRoute, workerRoute } from '../../src/training/routing';
import { skipUnlessNative } from '../helpers/native';

const skip = skipUnlessNative();
const config: RunConfig = {
  task: 'mnist-cnn',
  hparams: { trainSize: 640, valSize: 64, dropout: 0.2 },
  seed: 3,
  batchSize: 32,
  epochs: 2,
};

describe('backend selection in this process', { skip }, () => {
  test('auto loads tensorflow-graph (not the GPU package) and records TF and its bit-changing settings', async () => {
    const info = await selectBackend('auto');
    assert.equal(info.name, 'tensorflow-graph', 'graph-mode steps: the fastest backend measured here');
    assert.equal(info.versions['graph-step'], GRAPH_STEP_VERSION);
    assert.deepEqual(currentBackendInfo(), info, 'currentBackendInfo names the package that was loaded');
    assert.equal(info.versions['tfjs-node'], '4.22.0');
    assert.equal(info.versions['tfjs-node-gpu'], undefined);
    assert.equal(info.versions.tensorflow, TF_VERSION);
    assert.equal(info.versions.TF_DETERMINISTIC_OPS, '1');
    assert.equal(info.versions.TF_ENABLE_ONEDNN_OPTS, '1');
    assert.match(info.versions.TF_NUM_INTRAOP_THREADS ?? '', /^\d+$/);
    assert.match(info.versions['cpu-isa'] ?? '', /^(x64|arm64)\//);
  });

  test('eager tensorflow is still there on request, with its own fingerprint', async () => {
    const graph = await selectBackend('tensorflow-graph');
    const eager = await selectBackend('tensorflow');
    assert.equal(eager.name, 'tensorflow');
    assert.equal(eager.versions['graph-step'], undefined);
    assert.notEqual(backendFingerprint(eager), backendFingerprint(graph));
  });

  for (const gpu of ['tensorflow-gpu', 'tensorflow-gpu-graph'] as const) {
    test(`${gpu} without a GPU build or device fails with the reason and what to run`, async () => {
      await assert.rejects(selectBackend(gpu), (err: Error) => {
        assert.ok(err instanceof BackendUnavailableError);
        assert.match(
          err.message,
          new RegExp(`${gpu}: (not built: run \`durable-fit backend build --gpu\`|no NVIDIA GPU)`),
        );
        return true;
      });
    });
  }
});

describe('native trainer processes', { skip }, () => {
  const env = (threads: string) => ({ ...process.env, TF_NUM_INTRAOP_THREADS: threads });
  let oneA: TrainerProcess;
  let oneB: TrainerProcess;
  let two: TrainerProcess;

  before(async () => {
    // Sequential starts: two cores are shared with the other test files.
    oneA = await TrainerProcess.start({ backend: 'tensorflow', env: env('1'), onStderr: () => undefined });
    oneB = await TrainerProcess.start({ backend: 'tensorflow', env: env('1'), onStderr: () => undefined });
    two = await TrainerProcess.start({ backend: 'tensorflow', env: env('2'), onStderr: () => undefined });
  });
  after(async () => {
    await Promise.all([oneA.close(), oneB.close(), two.close()]);
  });

  test('two separate processes give the same weightsSha256; a resume in the other is exact', async () => {
    const a = await oneA.run({ config }).result;
    const b = await oneB.run({ config }).result;
    assert.equal(a.state.meta.backend.name, 'tensorflow');
    assert.equal(b.state.meta.weightsSha256, a.state.meta.weightsSha256);
    const half = await oneA.run({ config, stopAtStep: 27 }).result;
    const resumed = await oneB.run({ config, from: half.state }).result;
    assert.equal(resumed.state.meta.weightsSha256, a.state.meta.weightsSha256, 'Adam state and RNG restored');
  });

  test('digits-resnet (residual blocks, augmentation) resumes mid-epoch in another process exactly', async () => {
    const resnet: RunConfig = {
      task: 'digits-resnet',
      hparams: { trainSize: 256, valSize: 64, width: 8 },
      seed: 5,
      batchSize: 32,
      epochs: 2,
    };
    const whole = await oneA.run({ config: resnet }).result;
    const half = await oneA.run({ config: resnet, stopAtStep: 21 }).result;
    const resumed = await oneB.run({ config: resnet, from: half.state }).result;
    assert.equal(resumed.state.meta.cursor.step, 32, '256 + 256 augmented samples, 16 batches an epoch');
    assert.equal(resumed.state.meta.weightsSha256, whole.state.meta.weightsSha256);
  });

  test('1 vs 2 intra-op threads change the bits, so they are different fingerprints and routes', async () => {
    const one = await oneA.run({ config }).result;
    const other = await two.run({ config }).result;
    // The measurement this test pins down (docs/native.md): thread count changes summation order.
    assert.notEqual(other.state.meta.weightsSha256, one.state.meta.weightsSha256);
    assert.notEqual(backendFingerprint(two.backend), backendFingerprint(oneA.backend));
    assert.equal(backendFingerprint(oneB.backend), backendFingerprint(oneA.backend));
    // A run resumed from the 1-thread checkpoint goes to the 1-thread workers, not to this 2-thread one.
    const route = chooseRoute({
      taskQueue: 'q',
      workerRoute: workerRoute('q', two.backend),
      resumeBackend: one.state.meta.backend,
      allowBackendChange: false,
    });
    assert.equal(route, workerRoute('q', oneA.backend));
  });
});
