/**
 * Graph-mode training steps (`tensorflow-graph`): what the tracer builds is the same training step.
 * Without dropout its weights match eager tensorflow's (to rounding: TF's fused ReLU and bias
 * gradients and Grappler's rewrites change the last bits); with dropout it is its own
 * backend (seeded graph random draws), deterministic across processes and fingerprinted apart; a
 * step that cannot be traced falls back to eager, names the op, and trains exactly like eager.
 * The exactness property test (training-exactness.slow.test.ts) covers resume on it.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { NamedTensor } from '../../src/state';
import { groupInputs } from '../../src/training/graph/op-def';
import { backendFingerprint } from '../../src/training/routing';
import type { RunConfig } from '../../src/training/session';
import { TrainerProcess } from '../../src/training/trainer-process';
import { skipUnlessNative } from '../helpers/native';

describe('op arguments', () => {
  const concat = [{ name: 'values', numberAttr: 'N' }, { name: 'axis' }];
  test('a list input takes its length from its number attribute', () => {
    const attrs = [{ name: 'N', type: 1, value: 3 }];
    assert.deepEqual(groupInputs(concat, attrs, ['a', 'b', 'c', 'axis']), [['a', 'b', 'c'], 'axis']);
  });
  test('a list input without its attribute takes what the other arguments leave', () => {
    assert.deepEqual(groupInputs(concat, [], ['a', 'b', 'axis']), [['a', 'b'], 'axis']);
  });
  test('inputs that do not fit the arguments are refused', () => {
    const attrs = [{ name: 'N', type: 1, value: 3 }];
    assert.throws(() => groupInputs(concat, attrs, ['a', 'axis']), /do not fit/);
  });
});

const TASKS = path.resolve(__dirname, '..', 'helpers', 'untraceable-tasks.ts');
const config = (task: string, hparams: Record<string, unknown>): RunConfig => ({
  task,
  hparams,
  seed: 5,
  batchSize: 16,
  epochs: 2,
});

describe('graph mode on native TensorFlow', { skip: skipUnlessNative() }, () => {
  let eager: TrainerProcess;
  let graph: TrainerProcess;
  let graph2: TrainerProcess;
  let graphLog = '';

  before(async () => {
    const quiet = { onStderr: () => undefined, taskModules: [TASKS] };
    [eager, graph, graph2] = await Promise.all([
      TrainerProcess.start({ backend: 'tensorflow', ...quiet }),
      TrainerProcess.start({ backend: 'tensorflow-graph', ...quiet, onStderr: (l) => (graphLog += l) }),
      TrainerProcess.start({ backend: 'tensorflow-graph', ...quiet }),
    ]);
  });
  after(async () => {
    await Promise.all([eager.close(), graph.close(), graph2.close()]);
  });

  const train = async (p: TrainerProcess, c: RunConfig) => (await p.run({ config: c }).result).state;

  test('without dropout the traced step computes what the eager step computes', async () => {
    for (const c of [
      config('synthetic', { samples: 100, dropout: 0 }), // 7 batches: the last one has 4 rows
      config('mnist-mlp', { trainSize: 64, valSize: 16, dropout: 0, hidden: 32 }),
      config('mnist-cnn', { trainSize: 64, valSize: 16, dropout: 0, filters: 2 }),
      config('synthetic', { dropout: 0, optimizer: 'rmsprop' }),
    ]) {
      const [a, b] = await Promise.all([train(eager, c), train(graph, c)]);
      assert.equal(b.meta.backend.name, 'tensorflow-graph');
      assert.equal(b.meta.backend.stepMode, 'graph');
      // Not bit for bit: graph mode uses TF's fused ReluGrad/BiasAddGrad and Grappler's rewrites.
      const label = `${c.task} ${JSON.stringify(c.hparams)}`;
      assert.ok(maxRelativeDifference(a.tensors, b.tensors) < 1e-3, label);
      assert.ok(
        Math.abs((a.meta.metrics.at(-1)?.loss ?? 0) - (b.meta.metrics.at(-1)?.loss ?? 1)) < 1e-3,
        label,
      );
    }
  });

  test('with dropout it is deterministic across processes and its own fingerprint', async () => {
    const c = config('mnist-cnn', { trainSize: 64, valSize: 16, dropout: 0.3, filters: 2 });
    const [a, b, e] = await Promise.all([
      train(graph, c).then((s) => s.meta),
      train(graph2, c).then((s) => s.meta),
      train(eager, c).then((s) => s.meta),
    ]);
    assert.equal(a.backend.stepMode, 'graph');
    assert.equal(a.weightsSha256, b.weightsSha256);
    assert.notEqual(a.weightsSha256, e.weightsSha256, 'graph dropout draws differ from eager tfjs draws');
    assert.notEqual(backendFingerprint(a.backend), backendFingerprint(e.backend));
  });

  test('an untraceable step falls back to eager, names the op, and trains like eager', async () => {
    for (const [task, op] of [
      ['peeking-synthetic', /op \w+ has its result read back into JavaScript/],
      [
        'label-weighted-synthetic',
        /a tensor made in JavaScript \(the batch or a value\) has its result read/,
      ],
    ] as const) {
      const c = config(task, { dropout: 0 });
      const [a, b] = await Promise.all([
        train(eager, c).then((s) => s.meta),
        train(graph, c).then((s) => s.meta),
      ]);
      assert.match(
        b.backend.stepMode ?? '',
        /^eager \(graph unsupported: (op \w+|a tensor made in JavaScript .*)\)$/,
      );
      assert.match(graphLog, op);
      assert.equal(b.weightsSha256, a.weightsSha256);
    }
  });
});

/** The largest |a − b| ÷ max |a| over same-named float32 tensors of two states. */
function maxRelativeDifference(a: readonly NamedTensor[], b: readonly NamedTensor[]): number {
  const floats = (t: NamedTensor) => new Float32Array(new Uint8Array(t.data).buffer);
  const byName = new Map(b.map((t) => [t.name, t]));
  let worst = 0;
  for (const ta of a) {
    const tb = byName.get(ta.name);
    assert.ok(tb, `${ta.name} missing from the graph state`);
    const [va, vb] = [floats(ta), floats(tb)];
    const scale = Math.max(1e-6, ...va.map(Math.abs));
    va.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - (vb[i] as number)) / scale)));
  }
  return worst;
}
