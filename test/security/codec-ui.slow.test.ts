// The Temporal Web UI decodes an encrypted run through our codec server, in a real browser (Debian's
// chromium via playwright-core, as test/e2e/ui.slow.test.ts). The shared test server has no codec
// endpoint, so this file starts its own dev server with `--ui-codec-endpoint` (the flag `stack up
// --codec-endpoint` passes); MinIO is the shared one. Screenshots go to test-artifacts/codec-ui/.
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Client } from '@temporalio/client';
import { chromium } from 'playwright-core';
import type { Browser, Page } from 'playwright-core';
import { connectClient, startTraining } from '../../src/client';
import type { TrainingSpecInput } from '../../src/spec';
import { freePorts } from '../../src/stack/ports';
import type { TemporalServerConfig } from '../../src/stack/servers';
import { failOnEarlyExit, spawnServer, temporalArgs, waitTemporalHealthy } from '../../src/stack/servers';
import { AesGcmPayloadCodec } from '../../src/security/codec';
import type { Payload } from '@temporalio/common';
import { startCodecServer } from '../../src/security/codec-server';
import type { RunningCodecServer } from '../../src/security/codec-server';
import { testStack } from '../helpers/stack-env';
import { waitForText as waitForUiText } from '../helpers/ui-page';
import { startTestWorker, testEnv, testOptions } from '../helpers/training';

const ARTIFACTS = 'test-artifacts/codec-ui';
const CHROMIUM = '/usr/bin/chromium';
const taskQueue = `codec-ui-${process.pid}`;
const keys = [{ id: 'ui-k1', key: crypto.randomBytes(32) }];
const spec: TrainingSpecInput = {
  task: 'synthetic',
  epochs: 1,
  seed: 23,
  batchSize: 16,
  hparams: { samples: 48 },
};

let dir: string;
let temporal: ChildProcess | undefined;
let config: TemporalServerConfig;
let codecServer: RunningCodecServer;
let decodeRequests = 0;
let client: Client | undefined;
let worker: Awaited<ReturnType<typeof startTestWorker>> | undefined;
let browser: Browser | undefined;

before(async () => {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-codec-ui-'));
  const [port, uiPort, httpPort, metricsPort] = (await freePorts(4)) as [number, number, number, number];
  const codec = new AesGcmPayloadCodec(keys);
  const counting = {
    encode: (p: Payload[]) => codec.encode(p),
    decode: (p: Payload[]) => {
      decodeRequests++;
      return codec.decode(p);
    },
  };
  codecServer = await startCodecServer({ codec: counting, port: 0, origins: [`http://127.0.0.1:${uiPort}`] });
  config = {
    bin: testStack().temporalBin,
    host: '127.0.0.1',
    port,
    uiPort,
    httpPort,
    metricsPort,
    namespace: 'default',
    dbFile: path.join(dir, 'temporal.db'),
    logFile: path.join(dir, 'temporal.log'),
    codecEndpoint: codecServer.url,
  };
  assert.ok(temporalArgs(config).join(' ').includes(`--ui-codec-endpoint ${codecServer.url}`));
  temporal = spawnServer(config.bin, temporalArgs(config), config.logFile, { detached: false });
  await Promise.race([waitTemporalHealthy(config), failOnEarlyExit(temporal, 'Temporal', config.logFile)]);
  const options = {
    ...testOptions(taskQueue),
    temporalAddress: `127.0.0.1:${port}`,
    encryptionKeys: keys.map((k) => `${k.id}:${k.key.toString('base64')}`).join(','),
  };
  worker = await startTestWorker(options);
  client = await connectClient(options, testEnv());
});
after(async () => {
  await browser?.close();
  await worker?.stop();
  await client?.connection.close();
  await codecServer?.close();
  if (temporal && temporal.exitCode === null) {
    const exited = new Promise((resolve) => temporal?.once('exit', resolve));
    temporal.kill('SIGTERM');
    await exited;
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test("the UI shows an encrypted run's input and result decoded through the codec server", async () => {
  assert.ok(fs.existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)`);
  assert.ok(client);
  const workflowId = `codec-ui-${Date.now()}`;
  const handle = await startTraining(client, spec, { taskQueue, workflowId });
  const result = await handle.result();
  assert.equal(result.status, 'completed');

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(`http://127.0.0.1:${config.uiPort}/namespaces/default/workflows/${workflowId}`);
  // Both only exist in clear text after decryption: the history holds ciphertext (codec.test.ts).
  await waitForText(page, [
    workflowId,
    'Completed',
    '"task": "synthetic"',
    '"seed": 23',
    result.weightsSha256,
  ]);
  await page.screenshot({ path: `${ARTIFACTS}/run-decoded.png` });
  assert.ok(decodeRequests > 0, 'the UI called the codec server');
});

/** Polls the page's text until every string is in it; a screenshot in ARTIFACTS when not. */
const waitForText = (page: Page, wanted: string[]) => waitForUiText(page, wanted, ARTIFACTS);
