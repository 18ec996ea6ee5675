// The Temporal Web UI, in a real browser (Debian's chromium, driven by playwright-core): a finished
// run that survived a SIGKILL shows its id, its Dfit* search attributes, the resumeEpoch event with
// its explicit .ckpt path, and its result. Screenshots go to test-artifacts/ui/.
import { TRAIN_MODEL } from '../../src/contract';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import type { TrainingSpecInput } from '../../src/spec';
import type { TrainModel } from '../../src/contract';
import { testStack } from '../helpers/stack-env';
import { waitForText as waitForUiText } from '../helpers/ui-page';
import { testClient, testEnv } from '../helpers/training';
import { WorkerFleet, waitForEpoch } from '../helpers/worker-fleet';
import { resumeEpochEvents } from './history';

const ARTIFACTS = 'test-artifacts/ui';
const CHROMIUM = '/usr/bin/chromium';
const taskQueue = `ui-${process.pid}`;
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 3, // the kill lands in epoch 0 (after a checkpoint) or at the start of epoch 1 at the latest
  seed: 11,
  batchSize: 16,
  hparams: { samples: 4096, features: 16, hidden: 64 },
  checkpoint: { everyBatches: 40, everySeconds: 0 },
  recovery: { heartbeatTimeoutSeconds: 2, backoffSeconds: 0 },
};

let client: Client;
let close: () => Promise<void>;
let browser: Browser | undefined;
const fleet = new WorkerFleet(testEnv(), taskQueue, `${ARTIFACTS}/workers`);

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  ({ client, close } = await testClient());
  await Promise.all([fleet.start(), fleet.start()]);
});
after(async () => {
  await browser?.close();
  await fleet.stopAll();
  await close();
});

test('the Web UI shows a recovered run: search attributes, resumeEpoch with its .ckpt, the result', async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  const workflowId = `ui-${Date.now()}`;
  const handle = await client.workflow.start<TrainModel>(TRAIN_MODEL, {
    taskQueue,
    workflowId,
    args: [spec],
  });
  const victim = await waitForEpoch(
    handle,
    (p) => p.details?.ckpt !== undefined || (p.details?.epoch ?? 0) >= 1,
  );
  await fleet.kill(victim.identity, 'SIGKILL');
  const result = await handle.result();
  assert.ok(result.recoveries.some((r) => r.kind === 'crash'));
  const [resume] = await resumeEpochEvents(client, workflowId);
  assert.ok(resume, 'a resumeEpoch was scheduled');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const runUrl = `${testStack().uiUrl}/namespaces/default/workflows/${workflowId}`;
  const runId = handle.firstExecutionRunId;

  await page.goto(runUrl);
  await waitForText(page, [workflowId, 'Completed', TRAIN_MODEL, 'resumeEpoch', resume.ckptPath]);
  await waitForText(page, [result.finalCheckpoint.url.slice(0, 40), 'weightsSha256', result.weightsSha256]);
  await page.screenshot({ path: `${ARTIFACTS}/run.png` });

  await page.goto(`${runUrl}/${runId}/search-attributes`);
  await waitForText(page, [
    '"DfitTask": "synthetic"',
    '"DfitStatus": "completed"',
    `"DfitRecoveries": ${result.recoveries.length}`,
    `"DfitEpoch": ${spec.epochs}`,
    '"DfitRunName"',
    '"DfitLoss"',
  ]);
  await page.screenshot({ path: `${ARTIFACTS}/search-attributes.png` });

  await page.goto(`${runUrl}/${runId}/history/events/${resume.eventId}`);
  await waitForText(page, ['Activity Task Scheduled', 'resumeEpoch', `"ckptPath": "${resume.ckptPath}"`]);
  assert.match(resume.ckptPath, /^s3:\/\/[^/]+\/ui-\d+-[0-9a-f]{8}\/epoch=\d{4}-step=\d{7}\.ckpt$/);
  await page.screenshot({ path: `${ARTIFACTS}/resume-epoch-event.png` });
});

/** Polls the page's text until every string is in it; a screenshot in ARTIFACTS when not. */
const waitForText = (page: Page, wanted: string[]) => waitForUiText(page, wanted, ARTIFACTS);
