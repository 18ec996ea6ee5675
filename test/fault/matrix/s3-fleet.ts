/**
 * What the S3 fault-matrix files (s3-hung-slow, s3-refused) share: one gated worker whose MinIO
 * connections go through a toxiproxy proxy in front of `upstream`, a cell runner that heals that
 * proxy and opens the gate whatever the cell did, and the mid-epoch phase their cells wait for.
 */
import type { WorkflowHandle } from '@temporalio/client';
import type { ToxiproxyProxy } from '../../helpers/toxiproxy';
import { WorkerFleet, waitForEpoch } from '../../helpers/worker-fleet';
import type { PendingEpoch, WorkerProcess } from '../../helpers/worker-fleet';
import { measureCell } from './cell';
import type { CellMeasure } from './cell';
import { GATE_ENV, Gate, INTERVAL, hostPort, stepInKey } from './fixture';
import type { MatrixFile } from './fixture';

export interface S3Fleet {
  /** The proxy the worker reaches S3 through: the cells refuse, hang or slow it. */
  s3: ToxiproxyProxy;
  /** The worker's training gate (closed: every batch sleeps STEP_MS). */
  gate: Gate;
  fleet: WorkerFleet;
  worker: WorkerProcess;
  /**
   * Runs one cell with the gate closed; at its end, whatever happened, `heal` runs (extra faults
   * the file injects), then the proxy is healed and the gate opened.
   */
  cell(row: CellMeasure, body: (row: CellMeasure) => Promise<void>): Promise<void>;
}

/** Starts one worker on `taskQueue` with S3 at `upstream` through a toxiproxy proxy and a gate. */
export async function startS3Fleet(
  file: MatrixFile,
  taskQueue: string,
  upstream: string,
  heal: () => void = () => undefined,
): Promise<S3Fleet> {
  const s3 = await file.toxiproxy.proxy('s3', hostPort(upstream));
  const gate = new Gate(file.tmp, 'worker');
  const fleet = new WorkerFleet(
    { ...file.env, DFIT_S3_ENDPOINT: `http://${s3.listen}`, [GATE_ENV]: gate.file },
    taskQueue,
    file.logDir,
  );
  const worker = await fleet.start();
  return {
    s3,
    gate,
    fleet,
    worker,
    async cell(row, body) {
      gate.close();
      try {
        await measureCell(row, body);
      } finally {
        heal();
        await s3.heal();
        gate.open();
      }
    },
  };
}

/** The run's position once a checkpoint at batch ≥ 2 intervals of epoch 0 is durable (mid-epoch). */
export function midEpoch(handle: WorkflowHandle): Promise<PendingEpoch> {
  return waitForEpoch(
    handle,
    (p) => p.details?.epoch === 0 && p.details.ckpt?.epoch === 0 && p.details.ckpt.batch >= 2 * INTERVAL,
  );
}

/**
 * Holds the run's next checkpoint upload after the one `seen` heartbeated at the S3 hold proxy
 * (behind toxiproxy): it stays in flight until released.
 */
export function holdNextUpload(file: MatrixFile, handle: WorkflowHandle, seen: PendingEpoch) {
  const after = seen.details?.ckpt?.step ?? 0;
  return file.hold.hold(
    (method, path) => method === 'PUT' && path.includes(handle.workflowId) && stepInKey(path) > after,
  );
}
