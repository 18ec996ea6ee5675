/**
 * Entry point of the trainer child process (`TrainerProcess.start` forks it). Runs one training
 * run at a time on a warm `Trainer`, answering snapshot/stop requests between batches. Exits when
 * the parent disconnects, so a dead worker never leaves a trainer behind.
 */
import type { TrainingState } from '../state';
import { packState } from './state-transfer';
import type { RunRequest, TrainerEvent, TrainerRequest } from './protocol';
import { serializeError } from './protocol';
import { RunControl, runSession } from './run-loop';
import { Trainer } from './trainer';
import { restoreModelWeights } from './model-weights';
import { loadTaskModules } from './tasks/load-modules';

let trainer: Trainer | undefined;
let active: { runId: number; control: RunControl } | undefined;
let transferDir: string | undefined;

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
    trainer = await Trainer.create(backend);
    send({ type: 'ready', backend: trainer.backend });
  } catch (error) {
    // The parent reports the error and ends this process.
    send({ type: 'error', error: serializeError(error) });
  }
}

async function run(runId: number, request: RunRequest): Promise<void> {
  if (!trainer)
    return send({ type: 'error', runId, error: { name: 'Error', message: 'trainer not initialised' } });
  if (active)
    return send({ type: 'error', runId, error: { name: 'TrainerBusyError', message: 'a run is active' } });
  const control = new RunControl();
  active = { runId, control };
  let session;
  try {
    session = trainer.open(request.config, request.from, { allowBackendChange: request.allowBackendChange });
    if (request.initWeights && !request.from) {
      restoreModelWeights(session.parts.model, session.parts.weightNames, request.initWeights.tensors);
    }
    let lastProgress = -Infinity;
    const outcome = await runSession(session, {
      control,
      untilEpoch: request.untilEpoch,
      stopAtStep: request.stopAtStep,
      specExtras: request.specExtras,
      onProgress: (p) => {
        const now = performance.now();
        if (now - lastProgress < (request.progressIntervalMs ?? 0) && p.batch + 1 < p.batches) return;
        lastProgress = now;
        send({ type: 'progress', runId, ...p });
      },
      onEpochEnd: (e) => send({ type: 'epoch-end', runId, ...e, state: portable(e.state) }),
    });
    send({ type: 'done', runId, stopped: outcome.stopped, state: portable(outcome.state) });
  } catch (error) {
    send({ type: 'error', runId, error: serializeError(error) });
  } finally {
    session?.dispose();
    active = undefined;
  }
}

function handle(message: TrainerRequest): void {
  switch (message.type) {
    case 'init':
      transferDir = message.transferDir;
      return void init({ backend: message.backend }, message.taskModules);
    case 'run': {
      const { type: _type, runId, ...request } = message;
      return void run(runId, request);
    }
    case 'snapshot':
      if (active?.runId !== message.runId) return;
      return void active.control.requestSnapshot().then((state) =>
        send({
          type: 'snapshot',
          runId: message.runId,
          requestId: message.requestId,
          state: portable(state),
        }),
      );
    case 'stop':
      if (active?.runId === message.runId) active.control.requestStop();
      return;
    case 'shutdown':
      process.disconnect();
  }
}

if (!process.send) {
  console.error('trainer-process must be started by TrainerProcess.start (it needs an IPC channel)');
  process.exit(2);
}
process.on('message', (message) => handle(message as TrainerRequest));
process.on('disconnect', () => process.exit());
