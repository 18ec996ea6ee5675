/**
 * `npm run bench [-- --quick] [--soak] [--out DIR] [--only a,b [--merge]] [--render]`: every benchmark on an isolated local stack
 * (its own Temporal and MinIO on free ports, removed afterwards), written to DIR/benchmarks.md and
 * DIR/benchmarks.json (DIR defaults to docs/). `--quick` runs each section small (< 3 minutes) so a
 * test can keep the code from rotting (an 8 s soak included); its figures are not for the docs.
 * `--soak` adds the 30-minute memory soak to the full plan. `--only a,b --merge` measures those sections
 * and puts them into DIR's existing report in place of the old ones; the report then says which
 * sections were measured again, when, and under what load.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import * as prettier from 'prettier';
import { resolveOptions } from '../src/config/options';
import { MINIO_SERVER, TEMPORAL_CLI } from '../src/stack/versions';
import type { BackendRequest } from '../src/training/backend';
import type { BenchStack } from './bench-stack';
import { startBenchStack } from './bench-stack';
import { runCheckpointIoBench } from './checkpoint-io';
import { runDataBench } from './data';
import type { DataScaleResult } from './data-scale';
import { runDataScaleBench } from './data-scale';
import { runGoodputBench } from './goodput';
import { runEngineSuite } from './engine';
import { isNativeLoadable } from './native';
import { runOverheadBench } from './overhead';
import { runRecoveryBench } from './recovery';
import { renderMarkdown } from './report';
import type { BenchResults, MachineInfo } from './results';
import { headline } from './results';
import { runScaleBench } from './scale';
import { runStallBench } from './stall';
import { runBoundaryBench } from './boundary';
import { runHistoryLengthBench } from './history-length';
import { runNaiveBench } from './naive';
import type { ParallelBenchOptions } from './parallel';
import { runParallelBench } from './parallel';
import type { PeerModel } from './peer';
import { runPeerBench } from './peer';
import { modelFor, runSizesBench } from './sizes';
import { runSoakBench } from './soak';
import type { TappedWorker } from './tapped-worker';
import { startTappedWorker } from './tapped-worker';
import { runWarp } from './warp';

const BACKEND: BackendRequest = 'wasm';

/**
 * Full plan, estimated (not run) from the quick plan's per-unit timings on this 2-core machine (wasm)
 * and one 60 MB sizes + recovery check (~1 s a step, 12 s a durable epoch with saves): io ~4 min
 * (500 MB dominates), engine ~3, overhead ~13 (10 pairs × (3 × 10 s durable + 3 × 10 s bare) plus
 * the 1 s row), boundary ~1, stall ~5 (10 pairs × 2 × ~14 s), recovery ~4, sizes ~12 (500 MB: ~8 s
 * a step, 4-batch epochs, 2 repeats, one kill), history ~5 (1,012 epochs of ~0.2 s), naive ~2,
 * parallel ~2 (measured: 126 s at load average 7, 25 timed rounds and three quality runs of 64,000
 * samples), scale ~3, peer ~15 (measured: 843 and 1094 s at load average 7-10, 5 triples of 4 models,
 * most of it digits-resnet): about 70 minutes, plus ~13 for overhead-native where the native backend is
 * built. The 30-minute soak runs only with `--soak`.
 */
const PLANS = {
  full: {
    io: { sizesMb: [1, 10, 100, 500], repeats: 10, tensors: 200 },
    warpS: 10,
    // Batches per round keep each round ~2-4 s: cpu is ~10× slower than wasm, native ~50-250× faster
    // than cpu. digits-resnet takes > 60 s a step on cpu: left out there.
    engine: {
      rounds: 10,
      tasks: ['mnist-mlp', 'mnist-cnn', 'digits-resnet'],
      batches: {
        'mnist-mlp': { tensorflow: 1000, wasm: 200, cpu: 25 },
        'mnist-cnn': { tensorflow: 150, cpu: 3 },
        'digits-resnet': { tensorflow: 40 },
      } as EngineBatches,
    },
    overhead: { epochSeconds: [1, 10], epochs: 3, repeats: 10, everySeconds: 5 },
    boundary: { epochs: 12, samples: 32 * 50 },
    stall: { epochS: 12, repeats: 10, intervalS: 5 },
    recovery: { heartbeatTimeoutsS: [5, 15], kills: 5, sigterms: 5, everyBatches: 100 },
    sizes: {
      sizesMb: [1, 10, 100, 500],
      epochS: 10,
      everySeconds: 5,
      repeats: 2,
      kills: 1,
      heartbeatTimeoutS: 5,
    },
    history: { atEpochs: [1, 100, 1000], continueAsNewEvery: 100, heartbeatTimeoutS: 5, window: 10 },
    naive: { hparams: { trainSize: 4000, valSize: 500 }, epochs: 3, repeats: 10 },
    // Rounds of H = 50 steps of batch 32 for K = 1, 2, 4; quality: K = 4 vs one worker after
    // 10 data epochs of 6,400 samples (both merges), validated on 2,000 held-out images.
    parallel: {
      hparams: { trainSize: 3200, valSize: 500, hidden: 64 },
      batchSize: 32,
      syncEverySteps: 50,
      shardCounts: [1, 2, 4],
      rounds: 9,
      quality: {
        hparams: { trainSize: 6400, valSize: 2000, hidden: 128 },
        batchSize: 32,
        epochs: 10,
        shards: 4,
        syncEverySteps: 50,
        outers: ['average', 'nesterov'],
      } as ParallelBenchOptions['quality'],
    },
    soak: { durationS: 1800, sampleEveryS: 10 },
    scale: { runs: 50, epochs: 3 },
    // The tasks' default sizes (250 batches an epoch); 3 epochs a run, the first a warm-up.
    peer: {
      models: [
        { label: 'mnist-mlp', task: 'mnist-mlp', hparams: {} },
        { label: 'mnist-cnn', task: 'mnist-cnn', hparams: {} },
        { label: 'mnist-cnn filters=32', task: 'mnist-cnn', hparams: { filters: 32 } },
        { label: 'digits-resnet', task: 'digits-resnet', hparams: {} },
      ] as PeerModel[],
      epochs: 3,
      pairs: 5,
      saveEveryBatches: 40,
    },
    // Five minutes with a fault a minute (torchft's 81 % anchor), and the same without faults.
    goodput: {
      task: 'mnist-cnn',
      hparams: {},
      batchSize: 32,
      everySeconds: 10,
      heartbeatTimeoutS: 5,
      durationS: 300,
      faultEveryS: [0, 60],
    },
    data: { importRows: 100_000, sizesMb: [64, 256, 1024], windowMb: 64, batchSize: 32 },
    // Only with --only data-scale: ~4 GB generated and trained twice (bench/data-scale.ts).
    'data-scale': { gb: 4, windowMb: 256 },
  },
  quick: {
    io: { sizesMb: [1], repeats: 2, tensors: 50 },
    warpS: 0,
    engine: {
      rounds: 3,
      tasks: ['mnist-mlp'],
      batches: { 'mnist-mlp': { tensorflow: 100, wasm: 30, cpu: 8 } } as EngineBatches,
    },
    overhead: { epochSeconds: [1], epochs: 3, repeats: 1, everySeconds: 5 },
    boundary: { epochs: 4, samples: 32 * 10 },
    stall: { epochS: 4, repeats: 1, intervalS: 1.5 },
    recovery: { heartbeatTimeoutsS: [3], kills: 1, sigterms: 1, everyBatches: 100 },
    sizes: { sizesMb: [1], epochS: 1.5, everySeconds: 0.5, repeats: 1, kills: 0, heartbeatTimeoutS: 3 },
    history: { atEpochs: [1, 4], continueAsNewEvery: 3, heartbeatTimeoutS: 3, window: 2 },
    naive: { hparams: { trainSize: 640, valSize: 64, hidden: 32 }, epochs: 2, repeats: 1 },
    parallel: {
      hparams: { trainSize: 640, valSize: 64, hidden: 16 },
      batchSize: 32,
      syncEverySteps: 5,
      shardCounts: [1, 2],
      rounds: 2,
      quality: {
        hparams: { trainSize: 640, valSize: 64, hidden: 16 },
        batchSize: 32,
        epochs: 1,
        shards: 4,
        syncEverySteps: 5,
        outers: ['average'],
      } as ParallelBenchOptions['quality'],
    },
    soak: { durationS: 8, sampleEveryS: 0.5 },
    scale: { runs: 6, epochs: 2 },
    peer: {
      models: [
        { label: 'mnist-mlp', task: 'mnist-mlp', hparams: { trainSize: 640, valSize: 64, hidden: 32 } },
      ] as PeerModel[],
      epochs: 2,
      pairs: 1,
      saveEveryBatches: 10,
    },
    goodput: {
      task: 'synthetic',
      hparams: { samples: 32 * 200, features: 32, hidden: 128 },
      batchSize: 32,
      everySeconds: 1,
      heartbeatTimeoutS: 3,
      durationS: 16,
      faultEveryS: [0, 6],
    },
    data: { importRows: 2_000, sizesMb: [16], windowMb: 16, batchSize: 32 },
    'data-scale': { gb: 0.05, windowMb: 16 },
  },
};
type Plan = (typeof PLANS)['full'];
/** Batches per timed round, by task and backend; a missing pair is not run. */
type EngineBatches = Record<string, Partial<Record<BackendRequest, number>>>;
const SECTIONS = [
  'io',
  'engine',
  'overhead',
  'overhead-native',
  'boundary',
  'stall',
  'recovery',
  'sizes',
  'history',
  'naive',
  'parallel',
  'soak',
  'scale',
  'peer',
  'goodput',
  'data',
  'data-scale',
] as const;
type Section = (typeof SECTIONS)[number];

const log = (line: string) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

async function runSection(results: BenchResults, name: Section, fn: () => Promise<void>): Promise<void> {
  const started = Date.now();
  log(`${name}: start`);
  try {
    await fn();
    log(`${name}: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    results.errors[name] = err instanceof Error ? err.message : String(err);
    log(`${name}: FAILED: ${results.errors[name]}`);
  }
}

/** Runs `fn` with a tapped in-process worker, closed afterwards. */
async function withTapped<T>(stack: BenchStack, fn: (w: TappedWorker) => Promise<T>): Promise<T> {
  const worker = await startTappedWorker(stack, BACKEND);
  try {
    return await fn(worker);
  } finally {
    await worker.close();
  }
}

function sectionsOf(
  plan: Plan,
  stack: BenchStack,
  results: BenchResults,
): Record<Section, () => Promise<void>> {
  const toolsDir = resolveOptions(process.env).toolsDir;
  return {
    io: async () => {
      results.io = await runCheckpointIoBench({ ...plan.io, connection: stack.running.stack.s3 });
      if (plan.warpS > 0) results.warp = runWarp(toolsDir, stack.running.stack.s3, plan.warpS);
    },
    engine: async () => {
      const { tasks, rounds, batches } = plan.engine;
      // Graph-mode steps are ~3× eager's: three times the batches keep a round as long.
      const batchesFor = (task: string, backend: BackendRequest) => {
        if (backend !== 'tensorflow-graph') return batches[task]?.[backend];
        const eager = batches[task]?.tensorflow;
        return eager === undefined ? undefined : eager * 3;
      };
      const onSkip = (backend: string, reason: string) => log(`engine: ${backend} left out: ${reason}`);
      const backends: BackendRequest[] = ['tensorflow-graph', 'tensorflow', 'wasm', 'cpu'];
      results.engine = await runEngineSuite({ tasks, backends, batchesFor, rounds, onSkip });
    },
    overhead: async () => {
      results.overhead = await runOverheadBench(stack, { ...plan.overhead, backend: BACKEND, log });
    },
    // The same on native TensorFlow: steps are ~10× faster, so fixed per-epoch costs weigh more.
    'overhead-native': async () => {
      if (!isNativeLoadable()) {
        log('overhead-native: skipped (run `durable-fit backend build`)');
        return;
      }
      results.overheadNative = await runOverheadBench(stack, {
        ...plan.overhead,
        backend: 'tensorflow',
        log,
      });
    },
    boundary: async () => {
      const spec = {
        task: 'synthetic',
        epochs: plan.boundary.epochs,
        seed: 3,
        batchSize: 32,
        hparams: { features: 64, hidden: 512, classes: 10, samples: plan.boundary.samples, valSamples: 256 },
        checkpoint: { everyBatches: 0, everySeconds: 0 },
      };
      results.boundary = [await withTapped(stack, (w) => runBoundaryBench(w, stack.client, spec))];
    },
    stall: async () => {
      const hparams = { features: 64, hidden: 512, classes: 10, valSamples: 256 };
      const options = { ...plan.stall, task: 'synthetic', hparams, batchSize: 32, log };
      results.stall = [await withTapped(stack, (w) => runStallBench(w, options))];
    },
    recovery: async () => {
      results.recovery = await runRecoveryBench(stack, { ...plan.recovery, backend: BACKEND, log });
    },
    sizes: async () => {
      const { kills, heartbeatTimeoutS, ...sizes } = plan.sizes;
      results.sizes = await withTapped(stack, (w) => runSizesBench(w, { ...sizes, backend: BACKEND, log }));
      if (kills === 0) return;
      results.sizesRecovery = [];
      for (const sizeMb of sizes.sizesMb) {
        const hparams = { ...modelFor(sizeMb), samples: 32 * 400, valSamples: 32 };
        const rows = await runRecoveryBench(stack, {
          heartbeatTimeoutsS: [heartbeatTimeoutS],
          kills,
          sigterms: 0,
          everyBatches: sizeMb < 50 ? 200 : 2, // large models train a step a second or slower
          hparams,
          backend: BACKEND,
          log,
        });
        results.sizesRecovery.push(...rows);
      }
    },
    history: async () => {
      results.historyLength = await runHistoryLengthBench(stack, { ...plan.history, backend: BACKEND, log });
    },
    naive: async () => {
      const options = { ...plan.naive, task: 'mnist-mlp', batchSize: 32, backend: BACKEND, log };
      results.naive = [await runNaiveBench(stack, options)];
    },
    parallel: async () => {
      results.parallel = await runParallelBench(stack, { ...plan.parallel, backend: BACKEND, log });
    },
    soak: async () => {
      results.soak = await runSoakBench(stack, { ...plan.soak, backend: BACKEND, log });
    },
    scale: async () => {
      results.scale = await runScaleBench(stack, { ...plan.scale, backend: BACKEND, log });
    },
    // Against Keras on durable-fit's default backend (`auto`), not the bench's BACKEND.
    peer: async () => {
      results.peer = await runPeerBench(stack, { ...plan.peer, log });
    },
    // On durable-fit's default native backend where it is built (real step times), else the bench's.
    goodput: async () => {
      const backend = isNativeLoadable() ? 'tensorflow-graph' : BACKEND;
      results.goodput = await runGoodputBench(stack, { ...plan.goodput, backend, log });
    },
    // Datasets streamed from the bucket (bench/data.ts).
    data: async () => {
      results.data = await runDataBench({ ...plan.data, connection: stack.running.stack.s3, log });
    },
    // A ≥ 4 GB dataset under a 1 GiB trainer cap, and a mid-epoch SIGKILL (bench/data-scale.ts);
    // its figures go to docs/datasets.md, so it is kept in the JSON only.
    'data-scale': async () => {
      const scale = await runDataScaleBench(stack, { ...plan['data-scale'], log });
      (results as BenchResults & { dataScale?: DataScaleResult }).dataScale = scale;
    },
  };
}

function machineInfo(mode: 'quick' | 'full'): MachineInfo {
  const pkg = (name: string) => {
    try {
      return (
        JSON.parse(fs.readFileSync(path.join('node_modules', name, 'package.json'), 'utf8')) as {
          version: string;
        }
      ).version;
    } catch {
      return 'absent';
    }
  };
  return {
    date: new Date().toISOString(),
    cpu: os.cpus()[0]?.model ?? 'unknown cpu',
    cores: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    loadAverage: os.loadavg(),
    node: process.versions.node,
    os: `${os.type()} ${os.release()}`,
    versions: {
      'durable-fit': pkg('..'),
      '@tensorflow/tfjs-core': pkg('@tensorflow/tfjs-core'),
      '@tensorflow/tfjs-backend-wasm': pkg('@tensorflow/tfjs-backend-wasm'),
      '@temporalio/worker': pkg('@temporalio/worker'),
      minio: pkg('minio'),
      'temporal CLI': TEMPORAL_CLI.version,
      'minio server': MINIO_SERVER.version,
    },
    backend: BACKEND,
    mode,
  };
}

/** Writes the file as the repository's Prettier config formats it, so `npm run lint` stays clean. */
async function writeFormatted(file: string, text: string): Promise<void> {
  const config = (await prettier.resolveConfig(file)) ?? {};
  fs.writeFileSync(file, await prettier.format(text, { ...config, filepath: file }));
}

async function main(): Promise<number> {
  // In-process workers (the tapped ones) would print the SDK's info log into the bench's output.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      only: { type: 'string' },
      /** Re-render benchmarks.md from an existing benchmarks.json (no measuring). */
      render: { type: 'boolean' },
      /** Adds the 30-minute memory soak to the full plan (the quick plan always runs an 8 s one). */
      soak: { type: 'boolean' },
      /** With --only: replace those sections in DIR/benchmarks.json, keep the rest. */
      merge: { type: 'boolean' },
    },
  });
  if (values.render) {
    const json = path.join(values.out ?? 'docs', 'benchmarks.json');
    const { results } = JSON.parse(fs.readFileSync(json, 'utf8')) as { results: BenchResults };
    await writeFormatted(path.join(values.out ?? 'docs', 'benchmarks.md'), renderMarkdown(results));
    return 0;
  }
  const mode = values.quick ? 'quick' : 'full';
  const plan: Plan = PLANS[mode];
  const outDir = values.out ?? 'docs';
  const soak = mode === 'quick' || values.soak === true;
  const only = values.only
    ? (values.only.split(',') as Section[])
    : SECTIONS.filter((name) => (name !== 'soak' || soak) && name !== 'data-scale'); // data-scale: --only
  const started = Date.now();
  const results: BenchResults = { machine: machineInfo(mode), errors: {}, durationS: 0 };
  const stack = await startBenchStack(log);
  const stop = () => void stack.close().finally(() => process.exit(130));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    const sections = sectionsOf(plan, stack, results);
    for (const name of SECTIONS) if (only.includes(name)) await runSection(results, name, sections[name]);
  } finally {
    await stack.close();
  }
  results.durationS = (Date.now() - started) / 1000;
  fs.mkdirSync(outDir, { recursive: true });
  const written = values.merge ? mergeInto(path.join(outDir, 'benchmarks.json'), results, only) : results;
  await writeFormatted(path.join(outDir, 'benchmarks.md'), renderMarkdown(written));
  await writeFormatted(
    path.join(outDir, 'benchmarks.json'),
    JSON.stringify({ headline: headline(written), results: written }),
  );
  log(`wrote ${outDir}/benchmarks.md and benchmarks.json in ${results.durationS.toFixed(0)} s`);
  return Object.keys(results.errors).length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);

/** The report in `json` with `fresh`'s sections in place of its own, and a record of the re-measure. */
function mergeInto(json: string, fresh: BenchResults, only: readonly Section[]): BenchResults {
  if (!isFullPlan(fresh)) throw new Error('--merge takes full-plan sections only (no --quick)');
  const { results: old } = JSON.parse(fs.readFileSync(json, 'utf8')) as { results: BenchResults };
  const { machine, errors, durationS, remeasured, ...measured } = fresh;
  const errorsKept = Object.fromEntries(
    Object.entries(old.errors).filter(([name]) => !only.includes(name as Section)),
  );
  return {
    ...old,
    ...measured,
    errors: { ...errorsKept, ...errors },
    remeasured: [
      ...(old.remeasured ?? []),
      ...(remeasured ?? []),
      { sections: [...only], date: machine.date, durationS, loadAverage: machine.loadAverage },
    ],
  };
}

function isFullPlan(r: BenchResults): boolean {
  return r.machine.mode === 'full';
}
