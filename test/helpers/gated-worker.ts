/**
 * An in-process worker on the test stack that runs gated-synthetic (test/helpers/gated-task.ts):
 * while the gate file is missing, its trainers sleep each batch, so a run stays where the test
 * wants it until `open()`. `start()` in `before`, `stop()` in `after`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { CreateWorkerOptions } from '../../src/worker/create-worker';
import { GATE_ENV } from './gated-task';
import { startTestRig, testOptions } from './training';
import type { TestRig } from './training';

export class GatedWorker {
  /** The gate file (missing: closed). */
  readonly gate: string;
  private readonly dir: string;
  private rig?: TestRig;

  constructor(
    name: string,
    private readonly taskQueue: string,
    private readonly extra: CreateWorkerOptions = {},
  ) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `dfit-${name}-`));
    this.gate = path.join(this.dir, 'gate');
  }

  /** Connects a client and starts the worker (its trainers read the gate from GATE_ENV). */
  async start(): Promise<{ client: Client }> {
    process.env[GATE_ENV] = this.gate; // read by the trainer processes this worker starts
    this.rig = await startTestRig(
      { ...testOptions(this.taskQueue), taskModules: [path.resolve('test/helpers/gated-task.ts')] },
      this.extra,
    );
    return { client: this.rig.client };
  }

  /** Lets every trainer train at full speed. */
  open(): void {
    fs.writeFileSync(this.gate, 'open');
  }

  /** Opens the gate (a failed test must not leave trainers sleeping), stops the worker, cleans up. */
  async stop(): Promise<void> {
    if (fs.existsSync(this.dir)) this.open();
    await this.rig?.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
