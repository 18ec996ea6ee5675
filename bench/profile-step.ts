/**
 * One training step on native TensorFlow (tfjs-node), op by op: where the time of an eager step goes,
 * to set against Keras's traced step (bench/peer/profile_keras.py; issue 20, docs/native.md).
 *
 *   npx tsx bench/profile-step.ts --task mnist-cnn [--hparam filters=32] [--steps 50] [--rounds 3]
 *     [--levers] [--lever relu-grad-op|onednn-pool|both] [--top 25] [--json out.json]
 *
 * Opens sessions as the engine does (`Trainer` on backend `tensorflow`, so native-runtime's settings
 * apply; a TF_* variable set in the environment wins, which is how the env levers are tried) and
 * wraps the addon's calls (step-profile.ts): `executeOp` (one TF eager op each) per op name and
 * phase, `createTensor`, `tensorDataSync` and `deleteTensor`, wall and CPU time. Rounds alternate a
 * plain run and a wrapped one, so the wrapper's cost shows. `--lever` installs eager levers
 * (eager-levers.ts) for the whole run; `--levers` times every lever and two step loops (the same
 * minimize with and without reading the loss back) against the engine step, interleaved round by
 * round, in steps/s and process CPU ms per step (other load inflates the first much more than the
 * second), and says whether each lever changed the weights' bits.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs-core';
import type { TrainingSession } from '../src/training/session';
import { Trainer } from '../src/training/trainer';
import { LEVERS } from './eager-levers';
import {
  StepProfile,
  calibrateWrapper,
  hookLoss,
  hookPhases,
  printProfile,
  wrapBinding,
} from './step-profile';

const WARMUP = 5;
/** The engine's minimize on consecutive rows, reading the loss back (`sync`) or not. */
function plainStep(session: TrainingSession, step: number, sync: boolean): void {
  const { dataset, model, optimizer, task, config } = session.parts;
  const n = config.batchSize;
  const slice = (data: Float32Array, shape: number[]) => {
    const width = shape.reduce((a, b) => a * b, 1);
    const first = (step * n) % (dataset.train.size - n);
    return tf.tensor(data.slice(first * width, (first + n) * width), [n, ...shape]);
  };
  const cost = tf.tidy(() => {
    const xs = slice(dataset.train.x, dataset.inputShape);
    const ys = slice(dataset.train.y, dataset.labelShape);
    const loss = () => task.loss(ys, model.apply(xs, { training: true }) as tf.Tensor);
    return optimizer.minimize(loss, sync, session.trainable) ?? [];
  });
  if (cost instanceof tf.Tensor) {
    cost.dataSync();
    cost.dispose();
  }
}

type Runner = (session: TrainingSession, step: number) => void;
interface Variant {
  run: Runner;
  /** Installs a lever for the variant's rounds; returns the undo. */
  install?: () => () => void;
}
const engineStep: Runner = (s) => s.step();
const VARIANTS: Record<string, Variant> = {
  'engine step (baseline)': { run: engineStep },
  ...Object.fromEntries(
    Object.entries(LEVERS).map(([name, install]) => [`engine step + ${name}`, { run: engineStep, install }]),
  ),
  'minimize + loss dataSync': { run: (s, i) => plainStep(s, i, true) },
  'minimize, no loss read-back': { run: (s, i) => plainStep(s, i, false) },
};

interface Rate {
  stepsPerSec: number;
  /** Process CPU time (all threads) per step: less sensitive than wall time to other load. */
  cpuMsPerStep: number;
}

function measure(session: TrainingSession, run: Runner, steps: number): Rate {
  const [start, cpu] = [performance.now(), process.cpuUsage()];
  for (let i = 0; i < steps; i++) run(session, i);
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - start) / 1000;
  return { stepsPerSec: steps / seconds, cpuMsPerStep: (used.user + used.system) / 1000 / steps };
}

const summary = (rates: Rate[]) =>
  `${median(rates.map((r) => r.stepsPerSec)).toFixed(1)} steps/s, ` +
  `${median(rates.map((r) => r.cpuMsPerStep)).toFixed(2)} CPU ms/step`;

/** SHA-256 prefix of the model's weights: equal prefixes (in practice) mean the same bits. */
function weightsDigest(session: TrainingSession): string {
  const hash = createHash('sha256');
  for (const w of session.parts.model.getWeights()) hash.update(w.dataSync() as Float32Array);
  return hash.digest('hex').slice(0, 16);
}

const fmt = (x: number, digits = 1) => x.toFixed(digits).padStart(10);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;

type Open = () => TrainingSession;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      task: { type: 'string', default: 'mnist-cnn' },
      hparam: { type: 'string', multiple: true, default: [] },
      steps: { type: 'string', default: '50' },
      rounds: { type: 'string', default: '3' },
      top: { type: 'string', default: '25' },
      lever: { type: 'string', multiple: true, default: [] },
      levers: { type: 'boolean', default: false },
      json: { type: 'string' },
    },
  });
  const hparams = Object.fromEntries(
    values.hparam.map((kv) => {
      const [k, v = ''] = kv.split('=');
      return [k, Number.isNaN(Number(v)) ? v : Number(v)];
    }),
  );
  const [steps, rounds] = [Number(values.steps), Number(values.rounds)];
  const trainer = await Trainer.create({ backend: 'tensorflow' });
  const open = () => {
    const session = trainer.open({ task: values.task, hparams, seed: 1, batchSize: 32, epochs: 1 });
    if (WARMUP + 2 * steps >= session.cursor.batchesPerEpoch)
      throw new Error(
        `--steps ${steps} runs past the epoch (${session.cursor.batchesPerEpoch} batches): use fewer`,
      );
    for (let i = 0; i < WARMUP; i++) session.step();
    return session;
  };
  const undo = values.lever.map((name) => {
    const install = LEVERS[name];
    if (!install) throw new Error(`unknown lever ${name} (known: ${Object.keys(LEVERS).join(', ')})`);
    return install();
  });
  console.log(`${values.task} ${JSON.stringify(hparams)} levers [${values.lever.join(', ')}]`);
  console.log(`backend ${JSON.stringify(trainer.backend.versions)}`);
  const result: Record<string, unknown> = {
    task: values.task,
    hparams,
    backend: trainer.backend,
    levers: values.lever,
  };
  Object.assign(result, runProfile(open, values.task, steps, rounds, Number(values.top)));
  if (values.levers) result.variants = runVariants(open, steps, rounds);
  undo.reverse().forEach((u) => u());
  if (values.json) {
    const replacer = (_k: string, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v);
    fs.writeFileSync(values.json, JSON.stringify(result, replacer, 2));
  }
}

/** Steps/s without and with the addon wrapped, alternating per round, then the op-by-op profile. */
function runProfile(open: Open, task: string, steps: number, rounds: number, top: number) {
  const profile = new StepProfile();
  hookLoss(task, profile);
  const plain: Rate[] = [];
  const wrapped: Rate[] = [];
  for (let round = 0; round < rounds; round++) {
    const session = open();
    hookPhases(session, profile);
    plain.push(measure(session, engineStep, steps));
    const unwrap = wrapBinding(profile);
    wrapped.push(measure(session, () => profile.step(session), steps));
    unwrap();
    session.dispose();
  }
  const wrapperUsPerCall = calibrateWrapper();
  printProfile(profile, top, wrapperUsPerCall);
  console.log(`unwrapped: ${summary(plain)}; wrapped: ${summary(wrapped)} (medians of ${rounds} rounds)`);
  return { profile, plain, wrapped, wrapperUsPerCall };
}

/** Each variant's rate, interleaved round by round; for levers, whether the weights' bits changed. */
function runVariants(open: Open, steps: number, rounds: number) {
  const rates: Record<string, Rate[]> = {};
  const digests: Record<string, string> = {};
  for (let round = 0; round < rounds; round++) {
    for (const [name, variant] of Object.entries(VARIANTS)) {
      const undo = variant.install?.();
      const session = open();
      (rates[name] ??= []).push(measure(session, variant.run, steps));
      if (round === 0 && variant.run === engineStep) digests[name] = weightsDigest(session);
      session.dispose();
      undo?.();
    }
  }
  const base = rates['engine step (baseline)'] ?? [];
  const [baseRate, baseCpu] = [
    median(base.map((r) => r.stepsPerSec)),
    median(base.map((r) => r.cpuMsPerStep)),
  ];
  console.log(
    `\n${'variant'.padEnd(34)}   steps/s ×base   best  CPU ms/step ×base  weights after ${WARMUP}+${steps} steps`,
  );
  for (const [name, list] of Object.entries(rates)) {
    const [rate, cpu] = [median(list.map((r) => r.stepsPerSec)), median(list.map((r) => r.cpuMsPerStep))];
    const best = Math.max(...list.map((r) => r.stepsPerSec));
    const cols = `${fmt(rate)} ${(rate / baseRate).toFixed(2)} ${best.toFixed(0).padStart(6)} ${fmt(cpu, 2)}   ${(cpu / baseCpu).toFixed(2)}`;
    console.log(`${name.padEnd(34)}${cols}  ${digests[name] ?? '(other data order)'}`);
  }
  return { rates, digests };
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
