/**
 * trainModel: the durable training story. One training loop (training-loop.ts) with a strategy per
 * kind of run: an epoch loop of `trainEpoch` activities (epochs.ts; when one fails, classify why,
 * pick the newest durable checkpoint, record the recovery, and call `resumeEpoch` with that `.ckpt`
 * path explicitly), or, for a spec with `parallel`, rounds of shard activities merged into a global
 * checkpoint (parallel.ts). Deterministic: no I/O here, only Temporal APIs.
 */
import * as wf from '@temporalio/workflow';
import type {
  RunRecord,
  RunStatus,
  TrainingActivities,
  TrainingResult,
  TrainingSpecInput,
} from '../src/contract';
import { attemptPausedSignal } from '../src/contract';
import { isNewer } from './recovery';
import { recordCheckpoint } from './record-update';
import { setupControls } from './controls';
import { epochStrategy, SHORT_ACTIVITY } from './epochs';
import { roundStrategy } from './parallel';
import type { Loop, LoopStrategy } from './training-loop';
import { beforeContinueAsNew, runLoop } from './training-loop';
import { progressOf, startingProgress } from './results';
import { publishProgress } from './visibility';
import { newLedger } from './goodput';

const { prepareRun } = wf.proxyActivities<TrainingActivities>(SHORT_ACTIVITY);

export async function trainModel(input: TrainingSpecInput, carried?: RunRecord): Promise<TrainingResult> {
  const { workflowId } = wf.workflowInfo();
  let status: RunStatus = carried ? 'running' : 'starting';
  let prepared: RunRecord | undefined = carried;
  // Handlers first: `progress` answers (status `starting`) and controls count while prepareRun runs.
  const controls = setupControls(
    () => (prepared ? progressOf(prepared, status) : startingProgress(input)),
    carried?.controls,
  );
  const record: RunRecord = (prepared ??= await startRecord(input, workflowId));
  const publish = (s: RunStatus) => publishProgress(record, (status = s));
  // Temporal's own activity pause of the running attempt: shown paused, its checkpoint recorded.
  const attemptPaused = { paused: false };
  wf.setHandler(attemptPausedSignal, ({ paused, ckpt }) => {
    if (ckpt && isNewer(ckpt, record.position)) recordCheckpoint(record, ckpt);
    attemptPaused.paused = paused;
    publish(paused ? 'paused' : 'running');
  });
  publish('running');
  const loop: Loop = { record, controls, workflowId, publish };
  // Only specs with `parallel` (a field older runs cannot have) train in rounds: old histories replay.
  const strategy: LoopStrategy<unknown> = record.spec.parallel
    ? await roundStrategy(loop)
    : epochStrategy(loop, attemptPaused);
  const outcome = await runLoop(strategy);
  if (outcome === 'continue-as-new') {
    await beforeContinueAsNew(loop);
    return wf.continueAsNew<typeof trainModel>(input, record);
  }
  strategy.loop.publish(outcome);
  return strategy.result(outcome);
}

async function startRecord(input: TrainingSpecInput, workflowId: string): Promise<RunRecord> {
  const { firstExecutionRunId } = wf.workflowInfo(); // names the default run folder (unique per run)
  const prepared = await prepareRun({ spec: input, workflowId, firstExecutionRunId }).catch(
    (err: unknown) => {
      // Bad input: fail the run with the activity's own message, which says what to fix.
      const cause = err instanceof wf.ActivityFailure ? err.cause : undefined;
      if (cause instanceof wf.ApplicationFailure)
        throw wf.ApplicationFailure.nonRetryable(cause.message, cause.type);
      throw err;
    },
  );
  const known = prepared.resumeFrom ? [prepared.resumeFrom] : [];
  return {
    spec: prepared.spec,
    checkpoints: known,
    epochs: [],
    recoveries: [],
    unusable: [],
    position: prepared.resumeFrom,
    initFrom: prepared.initFrom,
    ...(prepared.route ? { route: prepared.route } : {}),
    ledger: newLedger(Date.now(), prepared.resumeFrom?.step ?? 0),
  };
}
