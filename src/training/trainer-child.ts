/**
 * Entry point of the trainer child process (`TrainerProcess.start` forks it). Runs one training
 * run at a time on a warm `Trainer`, answering snapshot/stop requests between batches. A run asked
 * to `speculate` leaves its session training the next epoch (trainer-continuation.ts) for the next
 * run to adopt. Exits when the parent disconnects, so a dead worker never leaves a trainer behind.
 */
import type { TrainingState } from '../state';
import { packState } from './state-transfer';
import type { JobRequest, TrainerEvent, TrainerRequest } from './protocol';
import { serializeError } from './protocol';
import type { BatchProgress, RunOutcome } from './run-loop';
import { RunControl, runSession } from './run-loop';
import type { TrainingSession } from './session';
import { Trainer } from './trainer';
import { Continuation } from './trainer-continuation';
import type { WarmKey } from './warm-session';
import { decideWarmStart, WarmSessionLostError } from './warm-session';
import { restoreModelWeights } from './model-weights';
import { loadTaskModules } from './tasks/load-modules';
import { DatasetStore } from '../data/dataset-store';
import { windowBytesFromEnv } from '../data/window-env';
import { IpcDatasetReader } from './ipc-object-client';

let trainer: Trainer | undefined;
let active: { jobId: number; control: RunControl } | undefined;
/** The session kept after the last run, training its next epoch until a run adopts or discards it. */
let held: Continuation | undefined;
let transferDir: string | undefined;
/** Reads of dataset objects, served by the parent (this process holds no S3 credentials). */
let datasetReader: IpcDatasetReader | undefined;

function send(event: TrainerEvent): void {
  process.send?.(event);
}

function portable(state: TrainingState) {
  return packState(state, transferDir);
}

async function init(
  backend: Parameters<typeof Trainer.create>[0],
  taskModules: string[] = [],
): Promise<void> {
  try {
    // User task modules call registerTask() when loaded; the child needs them as much as the worker.
    loadTaskModules(taskModules);
    const datasets = datasetReader ? { datasets: new DatasetStore(datasetReader.client()) } : {};
    const windowBytes = windowBytesFromEnv(process.env); // the worker's DFIT_DATASET_WINDOW
    trainer = await Trainer.create({ ...backend, ...datasets, ...(windowBytes ? { windowBytes } : {}) });
    send({ type: 'ready', backend: trainer.backend });
  } catch (error) {
    // The parent reports the error and ends this process.
    send({ type: 'error', error: serializeError(error) });
  }
}

async function run(jobId: number, request: JobRequest): Promise<void> {
  if (!trainer)
    return send({ type: 'error', jobId, error: { name: 'Error', message: 'trainer not initialised' } });
  if (active)
    return send({ type: 'error', jobId, error: { name: 'TrainerBusyError', message: 'a job is active' } });
  const control = new RunControl();
  active = { jobId, control };
  let session: TrainingSession | undefined;
  try {
    let lastProgress = -Infinity;
    const onProgress = (p: BatchProgress) => {
      const now = performance.now();
      if (now - lastProgress < (request.progressIntervalMs ?? 0) && p.batch + 1 < p.batches) return;
      lastProgress = now;
      send({ type: 'progress', jobId, ...p });
    };
    let outcome: RunOutcome;
    const continuation = await takeContinuation(request);
    if (continuation) {
      session = continuation.session;
      active = { jobId, control: continuation.control };
      if (control.stopRequested) continuation.control.requestStop();
      outcome = await continuation.adopt(onProgress);
    } else {
      session = await trainer.openSession(request.config, request.from, {
        allowBackendChange: request.allowBackendChange,
      });
      if (request.initWeights && !request.from) {
        restoreModelWeights(session.parts.model, session.parts.weightNames, request.initWeights.tensors);
      }
      outcome = await runSession(session, {
        control,
        untilEpoch: request.untilEpoch,
        stopAtStep: request.stopAtStep,
        specExtras: request.specExtras,
        onProgress,
        ...(request.epochEnds
          ? { onEpochEnd: (e) => send({ type: 'epoch-end', jobId, ...e, state: portable(e.state) }) }
          : {}),
      });
    }
    send({ type: 'done', jobId, stopped: outcome.stopped, state: portable(outcome.state) });
    if (request.speculate && !outcome.stopped && !session.finished) {
      held = new Continuation(session, jobId, warmKeyOf(request, session), request.specExtras ?? {});
      session = undefined; // the continuation owns it now
    }
  } catch (error) {
    send({ type: 'error', jobId, error: serializeError(error) });
  } finally {
    session?.dispose();
    active = undefined;
  }
}

/**
 * The held continuation when `request` adopts it; otherwise it is discarded first (one session at a
 * time), and a request that named it fails: the parent restores from verified bytes then.
 */
async function takeContinuation(request: JobRequest): Promise<Continuation | undefined> {
  const current = held;
  held = undefined;
  const decision = decideWarmStart(current?.key, {
    config: request.config,
    specExtras: request.specExtras ?? {},
    allowBackendChange: request.allowBackendChange ?? false,
    untilEpoch: request.untilEpoch ?? request.config.epochs,
    ...(request.continueFrom ? { from: request.continueFrom } : {}),
    initWeights: request.initWeights !== undefined,
    ...(request.stopAtStep !== undefined ? { stopAtStep: request.stopAtStep } : {}),
  });
  if (decision.adopt && current && !request.from) return current;
  await current?.discard();
  if (request.continueFrom)
    throw new WarmSessionLostError(
      request.continueFrom.sha256,
      decision.adopt ? 'bytes given too' : decision.reason,
    );
  return undefined;
}

/** The held session's key: the next epoch of the run that just ended; saved once the parent says so. */
function warmKeyOf(request: JobRequest, session: TrainingSession): WarmKey {
  return {
    config: request.config,
    specExtras: request.specExtras ?? {},
    allowBackendChange: request.allowBackendChange ?? false,
    untilEpoch: Math.min(session.cursor.epoch + 1, request.config.epochs),
  };
}

function handle(message: TrainerRequest): void {
  switch (message.type) {
    case 'init':
      transferDir = message.transferDir;
      if (message.datasetBucket !== undefined)
        datasetReader = new IpcDatasetReader(message.datasetBucket, send);
      return void init({ backend: message.backend }, message.taskModules);
    case 'job': {
      const { type: _type, jobId, ...request } = message;
      return void run(jobId, request);
    }
    case 'snapshot':
      if (active?.jobId !== message.jobId) return;
      return void active.control.requestSnapshot().then((state) =>
        send({
          type: 'snapshot',
          jobId: message.jobId,
          requestId: message.requestId,
          state: portable(state),
        }),
      );
    case 'stop':
      if (active?.jobId === message.jobId) active.control.requestStop();
      return;
    case 'keep':
      if (held?.baseJobId === message.jobId) held.markSaved({ sha256: message.sha256, url: message.url });
      return;
    case 'dataset-bytes':
      return datasetReader?.answer(message.requestId, message.bytes, message.error);
    case 'shutdown':
      process.disconnect();
  }
}

if (!process.send) {
  console.error('trainer-child must be started by TrainerProcess.start (it needs an IPC channel)');
  process.exit(2);
}
process.on('message', (message) => handle(message as TrainerRequest));
process.on('disconnect', () => process.exit());
