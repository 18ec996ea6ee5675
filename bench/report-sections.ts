/** The report's per-section tables, each with how it was measured and which way its ratios read. */
import { renderDataSection } from './data';
import type { GoodputRow } from './goodput';
import type { OverheadRow } from './overhead';
import { parallelSection } from './parallel-report';
import { peerSection } from './peer-report';
import type { Phase } from './phases';
import type { BenchResults } from './results';
import type { Summary } from './stats';
import { formatSummary as f } from './stats';

export function sections(r: BenchResults): string[] {
  const out: string[] = [];
  if (r.overhead)
    out.push(
      '## Overhead: durable-fit vs a bare tfjs loop',
      '',
      OVERHEAD_HOW,
      '',
      ...overheadTable(r.overhead),
    );
  if (r.overheadNative)
    out.push(
      '## Overhead on native TensorFlow',
      '',
      OVERHEAD_NATIVE_HOW,
      '',
      ...overheadTable(r.overheadNative),
    );
  for (const b of r.boundary ?? []) {
    out.push(`## Epoch boundary: ${b.task}`, '', BOUNDARY_HOW, '');
    out.push(
      `Gap, last batch of N → first batch of N+1: **${f(b.gap, 1)} ms** over ${b.gap.n} boundaries (one batch takes ${b.batchMs.toFixed(1)} ms).`,
      '',
    );
    out.push(...phaseTable(b.phases));
  }
  if (r.stall) {
    out.push('## Stall: throughput lost to intra-epoch saves', '', STALL_HOW, '');
    out.push(
      '| task | checkpoint MB | batches/epoch | save every | steps/s with saves | steps/s without | lost (1 − with ÷ without, lower is better) |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const s of r.stall)
      out.push(
        `| ${s.task} | ${mb(s.checkpointBytes)} | ${s.batchesPerEpoch} | ${s.intervalS} s | ${f(s.withSavesStepsPerSec, 1)} | ${f(s.withoutStepsPerSec, 1)} | ${pct(s.lost)} |`,
      );
    out.push('');
  }
  if (r.io) {
    out.push('## Checkpoint I/O vs raw minio-js', '', IO_HOW, '');
    out.push(
      '| size | tensors | save MB/s | raw putObject MB/s | save: raw time ÷ ours (higher is better) | load MB/s | raw getObject MB/s | load: raw time ÷ ours (higher is better) | load with stat: raw ÷ ours |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const x of r.io)
      out.push(
        `| ${x.sizeMb} MB | ${x.tensors} | ${f(x.save.oursMBps, 0)} | ${f(x.save.rawMBps, 0)} | ${x.save.ratio.toFixed(2)} | ${f(x.load.oursMBps, 0)} | ${f(x.load.rawMBps, 0)} | ${x.load.ratio.toFixed(2)} | ${x.loadStat.ratio.toFixed(2)} |`,
      );
    out.push('');
    if (r.warp)
      out.push(
        r.warp.skipped
          ? `MinIO \`warp\` ceiling: skipped (${r.warp.reason}).`
          : `MinIO \`warp\` ${r.warp.version}, 100 MiB objects, 1 stream: PUT ${r.warp.putMiBps} MiB/s, GET ${r.warp.getMiBps} MiB/s.`,
        '',
      );
  }
  if (r.recovery) {
    out.push('## Recovery', '', RECOVERY_HOW, '', ...recoveryTable(r.recovery));
    for (const x of r.recovery) {
      out.push(
        `### Phases: ${x.signal}, ${x.heartbeatTimeoutS} s heartbeat timeout`,
        '',
        ...phaseTable(x.phases),
      );
      if (x.hungAfterSignal)
        out.push(
          `**${x.hungAfterSignal} of ${x.recoveryS.n} signalled workers had not exited 10 s after ${x.signal}** (the bench then SIGKILLed them).`,
          '',
        );
    }
  }
  out.push(...moreSections(r));
  return out;
}

function moreSections(r: BenchResults): string[] {
  const out: string[] = [];
  if (r.sizes) {
    out.push('## Model size', '', SIZES_HOW, '');
    out.push(
      '| checkpoint MB | hidden | batches/epoch | durable s/epoch | bare s/epoch | durable ÷ bare time (lower is better) | stall: steps/s lost (lower is better) |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const z of r.sizes)
      out.push(
        `| ${mb(z.checkpointBytes)} | ${z.hidden} | ${z.batchesPerEpoch} | ${f(z.durableEpochS)} | ${f(z.bareEpochS)} | ${f(z.overhead, 3)} | ${pct(z.lost)} |`,
      );
    out.push('');
    if (r.sizesRecovery)
      out.push('Recovery by model size (SIGKILL, backoff 0):', '', ...recoveryTable(r.sizesRecovery));
  }
  if (r.historyLength) {
    const h = r.historyLength;
    out.push('## History length', '', HISTORY_HOW, '');
    out.push(
      `${h.runs} runs in the continue-as-new chain (every ${h.continueAsNewEvery} epochs); heartbeat timeout ${h.heartbeatTimeoutS} s.`,
      '',
    );
    out.push(
      '| at epoch | epoch period s (after it) | kill → resumed epoch started, s | replaying workflow task, ms |',
      '| ---: | ---: | ---: | ---: |',
    );
    for (const x of h.rows)
      out.push(
        `| ${x.epoch} | ${f(x.epochPeriodS, 3)} | ${x.recoveryS.toFixed(2)} | ${x.workflowTaskMs.toFixed(0)} |`,
      );
    out.push('');
  }
  for (const n of r.naive ?? []) {
    out.push(`## durable-fit vs the naive loop (${n.task})`, '', NAIVE_HOW, '');
    out.push(
      '| naive fit + save s/epoch | of which model.save s | durable-fit s/epoch | durable ÷ naive time (lower is better) |',
      '| ---: | ---: | ---: | ---: |',
      `| ${f(n.naiveEpochS)} | ${f(n.naiveSaveS)} | ${f(n.durableEpochS)} | ${f(n.ratio, 3)} |`,
      '',
    );
  }
  if (r.parallel) out.push(...parallelSection(r.parallel));
  if (r.peer) out.push(...peerSection(r.peer));
  if (r.goodput) out.push(...goodputSection(r.goodput));
  if (r.data) out.push(renderDataSection(r.data), '');
  if (r.soak) {
    const s = r.soak;
    out.push('## Memory soak', '', SOAK_HOW, '');
    out.push(
      `${(s.durationS / 60).toFixed(1)} minutes, ${s.epochs} epochs.`,
      '',
      '| process | first MB | last MB | slope MB/h (± standard error) |',
      '| --- | ---: | ---: | ---: |',
    );
    for (const [name, x] of [
      ['worker', s.worker],
      ['trainer', s.trainer],
    ] as const)
      out.push(
        `| ${name} | ${x.firstMb.toFixed(0)} | ${x.lastMb.toFixed(0)} | ${x.slopeMbPerH.toFixed(1)} ± ${x.stderrMbPerH.toFixed(1)} |`,
      );
    out.push('', `Worker RSS (s: MB): ${s.worker.samples.map(([t, v]) => `${t}: ${v}`).join(', ')}`, '');
  }
  if (r.scale) {
    const s = r.scale;
    out.push('## Scale', '', SCALE_HOW, '');
    out.push(
      `- ${s.completed}/${s.runs} runs completed (${s.epochsPerRun} epochs each) in ${s.wallS.toFixed(1)} s: **${s.epochsPerMin.toFixed(0)} epochs/min** (no target).`,
      `- Start call latency under the burst: p50 ${s.startCallMs.p50.toFixed(0)} ms, p99 ${s.startCallMs.p99.toFixed(0)} ms. Workflow start → first epoch started: p50 ${s.firstEpochStartS.p50.toFixed(1)} s, p99 ${s.firstEpochStartS.p99.toFixed(1)} s (queueing behind 2 training slots).`,
      `- Largest RSS growth first → last sample: ${s.rssGrowthMb} MB.`,
      '',
    );
  }
  if (r.engine) {
    out.push('## Engine steps/s vs a bare tfjs loop', '', ENGINE_HOW, '');
    out.push(
      '| task | backend | engine steps/s | bare steps/s | engine ÷ bare steps/s (higher is better) |',
      '| --- | --- | ---: | ---: | ---: |',
    );
    for (const e of r.engine)
      out.push(
        `| ${e.task} | ${e.backend} | ${f(e.engineStepsPerSec, 1)} | ${f(e.bareStepsPerSec, 1)} | ${e.ratio.toFixed(3)} |`,
      );
    out.push('');
  }
  return out;
}

function overheadTable(rows: OverheadRow[]): string[] {
  return [
    '| epoch target | batches/epoch | epochs (each side) | durable-fit s/epoch | bare s/epoch | durable ÷ bare time, per pair (lower is better) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (o) =>
        `| ${o.targetEpochS} s | ${o.batchesPerEpoch} | ${o.samples} | ${f(o.durableEpochS)} | ${f(o.bareEpochS)} | ${f(o.pairRatios, 3)} (n = ${o.pairRatios.n} pairs) |`,
    ),
    '',
  ];
}

function recoveryTable(rows: NonNullable<BenchResults['recovery']>): string[] {
  return [
    '| signal | checkpoint MB | heartbeat timeout | signal → first batch after resume, s | minus timeout, s | batches lost | checkpoint every |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (x) =>
        `| ${x.signal} | ${x.checkpointBytes ? mb(x.checkpointBytes) : '?'} | ${x.heartbeatTimeoutS} s | ${f(x.recoveryS)} | ${x.signal === 'SIGKILL' ? f(x.overHeartbeatS) : '—'} | ${f(x.lostBatches, 0)} | ${x.everyBatches} batches |`,
    ),
    '',
  ];
}

function phaseTable(phases: Phase[]): string[] {
  return ['| phase | ms |', '| --- | ---: |', ...phases.map((p) => `| ${p.name} | ${f(p.ms, 1)} |`), ''];
}

const mb = (bytes: number) => (bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0);
const pct = (s: Summary) =>
  f(
    {
      ...s,
      median: s.median * 100,
      min: s.min * 100,
      max: s.max * 100,
      ciLow: mul(s.ciLow),
      ciHigh: mul(s.ciHigh),
    },
    2,
  ) + ' %';
const mul = (x: number | undefined) => (x === undefined ? undefined : x * 100);

const OVERHEAD_HOW =
  'One `durable-fit worker` process (trainer child process, real Temporal and MinIO) trains `synthetic` (64 features, 512 hidden, 10 classes, batch 32) with a checkpoint at every epoch end and every 5 s inside epochs. A durable-fit sample is the time between consecutive epoch completions in the workflow history, so workflow tasks, activity scheduling, checkpoint uploads and retention are all inside it. The bare loop trains the same model, data and batch order in the bench process with nothing else, plus the same validation pass. Durable and bare runs alternate; the first epoch of every run is a warm-up and is left out; each pair gives one ratio.';
const OVERHEAD_NATIVE_HOW =
  'The overhead measurement above, with the worker and the bare loop on native TensorFlow (`durable-fit backend build`): the same epoch lengths take ~10× more steps, so fixed per-epoch costs weigh more per step.';
const BOUNDARY_HOW =
  "A durable-fit worker in the bench process (real trainer child, Temporal, MinIO) whose engine is tapped for the trainer's batch timestamps; no intra-epoch saves. Phases come from the history between the trainer's last batch of N and first batch of N+1. The activity's own moments (engine asked to start an epoch, state handed over, checkpoint saved) are time-stamped by the tapped engine. With a warm trainer that trains ahead, \"engine asked → first batch\" is negative: the batch was trained before the activity that adopts it asked for it.";
const STALL_HOW =
  "The same tapped worker trains one epoch of several save intervals, alternately with a save every 5 s and with none (epoch-end save in both). Steps/s run from the first to the last batch of the epoch by the trainer's timestamps, so everything a save costs training (capture, IPC, hashing and upload competing for the cores) is inside.";
const IO_HOW =
  'The store (encode, SHA-256, create-only upload; load = download + size/SHA-256 check + decode) against minio-js `putObject`/`getObject` of the same bytes with default settings, interleaved on one MinIO, after one warm-up. The state is split into many tensors, as a real model\'s is. "load" is the resume path (size and SHA-256 from the workflow record); "load with stat" a bare URL.';
const RECOVERY_HOW =
  "Two `durable-fit worker` processes; the one running the epoch is signalled right after a heartbeat reached the server (worst case for SIGKILL). Time runs until the resumed epoch reports its first trained batch on the other worker; lost batches = trained before the kill − the step of the checkpoint the run resumed from. Spec: `backoffSeconds: 0`. Phases per sample from the history: when the failure was recorded, the workflow task that decided the resume, and the resumed activity's scheduled and started times (from the server's pending-activity record).";
const SIZES_HOW =
  "A `synthetic` model (Adam; 64 → hidden → 10 below 50 MB, 1024 → hidden → 1000 above) whose width sets the checkpoint size; each epoch is calibrated to ~10 s on the bare loop (4 to 20,000 batches). Per size, alternately on a tapped in-process worker: durable-fit with a save every epoch and every 5 s, the same without intra-epoch saves, and the bare loop. Durable epoch = last batch of epoch 0 → last batch of epoch 1 (the boundary and the saves inside), bare epoch = the bare loop's second epoch. Few repeats: a sample at 500 MB takes minutes on 2 cores. Save/load at these sizes: the checkpoint I/O table.";
const HISTORY_HOW =
  'One run of tiny `synthetic` epochs on two worker processes, continuing as new on schedule; at each listed epoch the worker running the epoch is SIGKILLed. Epoch periods are the gaps between consecutive epoch completions after that point (across continue-as-new); the recovery is the kill → the resumed epoch activity started, and the workflow task after the timeout shows the replay cost on a worker without the run cached.';
const NAIVE_HOW =
  "What a tfjs user would write: `model.fit` one epoch, then `model.save('s3://…')` through a `tf.io` handler (`registerS3IOHandlers`) every epoch, in one process. durable-fit runs the same model, data and batch size with one save per epoch, alternately. The naive loop keeps only weights: no optimizer state, data cursor or RNG (no exact resume), and nothing restarts it when the process dies.";
const SOAK_HOW =
  'One worker process trains one long run (saves every epoch and every 2 s, keeping the last 3) while the bench samples the resident memory of the worker and of its trainer child. The slope is a least-squares fit after the first 10 % of samples; "flat within noise" means the slope is within two standard errors of zero (or below).';
const SCALE_HOW =
  'N runs of `synthetic` (defaults: 96 samples, 3 batches/epoch) started at once on 2 `durable-fit worker` processes with one training slot each.';
const ENGINE_HOW =
  'The durable-fit engine (owned data order, per-step seeds, cursor, run loop with yields) against a bare tfjs loop on the same model, data, batch size 32 and backend, in alternating rounds; on `tensorflow` the bare loop is a bare tfjs-node loop. Conv tasks do not run on wasm; digits-resnet is left out on cpu.';

const GOODPUT_HOW =
  "One long run on two real worker processes, stopped after a fixed time, with a fault every N seconds: alternately the worker training the run SIGKILLed (a lost machine, noticed by the heartbeat timeout) and its trainer child SIGKILLed (an OOM kill, noticed at once; a lost worker is replaced). The figures are the run's own goodput ledger (workflows/goodput.ts): goodput = training time of the kept steps ÷ wall time; steps kept ÷ trained; steps redone and seconds lost by cause. The run without faults is the baseline (checkpoints and epoch boundaries). Anchor: torchft reports 81 % goodput at one failure a minute.";

function goodputSection(rows: GoodputRow[]): string[] {
  const out = ['## Goodput under failures', '', GOODPUT_HOW, ''];
  out.push(
    '| backend, task | fault every | faults (worker + trainer) | wall s | goodput (higher is better) | steps kept ÷ trained | steps redone | lost s: detection / recovery / checkpoint stall / queue |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  );
  for (const x of rows) {
    const g = x.goodput;
    const lost = g.lostSeconds;
    out.push(
      `| ${x.backend}, ${x.task} | ${x.faultEveryS ? `${x.faultEveryS} s` : 'never'} | ${x.faults.worker} + ${x.faults.trainer} | ${g.wallSeconds.toFixed(0)} | ${(g.ratio * 100).toFixed(1)} % | ${g.stepRatio.toFixed(3)} | ${g.stepsRedone} | ${[lost.detection, lost.recovery, lost.checkpointStall, lost.queueWait].map((v) => v.toFixed(1)).join(' / ')} |`,
    );
  }
  out.push(
    '',
    `Heartbeat timeout ${rows[0]?.heartbeatTimeoutS ?? '?'} s, a checkpoint every ${rows[0]?.everySeconds ?? '?'} s, backoff 0.`,
    '',
  );
  return out;
}
