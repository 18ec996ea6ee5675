/**
 * `npm run bench [-- --quick] [--out DIR] [--only a,b] [--render]`: every benchmark on an isolated local stack
 * (its own Temporal and MinIO on free ports, removed afterwards), written to DIR/benchmarks.md and
 * DIR/benchmarks.json (DIR defaults to docs/). `--quick` runs each section small (< 3 minutes) so a
 * test can keep the code from rotting; its figures are not for the docs.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import * as prettier from 'prettier';
import { resolveOptions } from '../src/config/options';
import { MINIO_SERVER, TEMPORAL_CLI } from '../src/stack/versions';
import type { BackendRequest } from '../src/training/backend';
import type { BenchStack } from './bench-stack';
import { startBenchStack } from './bench-stack';
import { runCheckpointIoBench } from './checkpoint-io';
import { runEngineSuite } from './engine';
import { isNativeLoadable } from './native';
import { runOverheadBench } from './overhead';
import { runRecoveryBench } from './recovery';
import { renderMarkdown } from './report';
import type { BenchResults, MachineInfo } from './results';
import { headline } from './results';
import { runScaleBench } from './scale';
import { runStallBench } from './stall';
import { runWarp } from './warp';

const BACKEND: BackendRequest = 'wasm';

const PLANS = {
  full: {
    io: { sizesMb: [10, 100, 500], repeats: 5 },
    warpS: 10,
    // Batches per round keep each round ~2-4 s: cpu is ~10× slower than wasm, native ~50-250× faster
    // than cpu. digits-resnet takes > 60 s a step on cpu: left out there.
    engine: {
      rounds: 5,
      tasks: ['mnist-mlp', 'mnist-cnn', 'digits-resnet'],
      batches: {
        'mnist-mlp': { tensorflow: 1000, wasm: 200, cpu: 25 },
        'mnist-cnn': { tensorflow: 150, cpu: 3 },
        'digits-resnet': { tensorflow: 40 },
      } as EngineBatches,
    },
    stall: { snapshots: 25 },
    overhead: { epochSeconds: [1, 3, 10], epochs: 6, everySeconds: 5 },
    recovery: { heartbeatTimeoutsS: [5, 15], kills: 5, sigterms: 5, everyBatches: 100 },
    scale: { runs: 50, epochs: 3 },
  },
  quick: {
    io: { sizesMb: [10], repeats: 3 },
    warpS: 0,
    engine: {
      rounds: 3,
      tasks: ['mnist-mlp'],
      batches: { 'mnist-mlp': { tensorflow: 100, wasm: 30, cpu: 8 } } as EngineBatches,
    },
    stall: { snapshots: 8 },
    overhead: { epochSeconds: [1], epochs: 3, everySeconds: 5 },
    recovery: { heartbeatTimeoutsS: [3], kills: 1, sigterms: 1, everyBatches: 100 },
    scale: { runs: 6, epochs: 2 },
  },
};
type Plan = (typeof PLANS)['full'];
/** Batches per timed round, by task and backend; a missing pair is not run. */
type EngineBatches = Record<string, Partial<Record<BackendRequest, number>>>;
const SECTIONS = ['io', 'stall', 'engine', 'overhead', 'overhead-native', 'recovery', 'scale'] as const;
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
    stall: async () => {
      const common = {
        backend: BACKEND,
        batchSize: 32,
        snapshots: plan.stall.snapshots,
        intervalS: plan.overhead.everySeconds,
      };
      const synthetic = { features: 64, hidden: 512, classes: 10, samples: 32 * 400, valSamples: 256 };
      results.stall = [
        await runStallBench({ ...common, task: 'synthetic', hparams: synthetic }),
        await runStallBench({ ...common, task: 'mnist-mlp', hparams: {} }),
      ];
    },
    engine: async () => {
      const { tasks, rounds, batches } = plan.engine;
      const batchesFor = (task: string, backend: BackendRequest) => batches[task]?.[backend];
      const onSkip = (backend: string, reason: string) => log(`engine: ${backend} left out: ${reason}`);
      const backends: BackendRequest[] = ['tensorflow', 'wasm', 'cpu'];
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
    recovery: async () => {
      results.recovery = await runRecoveryBench(stack, { ...plan.recovery, backend: BACKEND, log });
    },
    scale: async () => {
      results.scale = await runScaleBench(stack, { ...plan.scale, backend: BACKEND, log });
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
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      out: { type: 'string' },
      only: { type: 'string' },
      /** Re-render benchmarks.md from an existing benchmarks.json (no measuring). */
      render: { type: 'boolean' },
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
  const only = values.only ? (values.only.split(',') as Section[]) : [...SECTIONS];
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
  await writeFormatted(path.join(outDir, 'benchmarks.md'), renderMarkdown(results));
  await writeFormatted(
    path.join(outDir, 'benchmarks.json'),
    JSON.stringify({ headline: headline(results), results }),
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
