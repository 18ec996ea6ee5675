/**
 * The cluster topology (src/stack/cluster.ts) for the cluster test tier: brought up by the same code
 * as `durable-fit stack up --topology cluster`, in a temporary state folder on free ports, with
 * the node and service faults the tier drives (each one a real process killed or restarted).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DurableFitOptions } from '../../src/config/options';
import { resolveOptions } from '../../src/config/options';
import { readCredentialsFile } from '../../src/config/s3-credentials';
import { clusterDown, clusterReset, clusterUp } from '../../src/stack/cluster';
import { savedClusterLayout } from '../../src/stack/cluster-layout';
import type { ClusterLayout } from '../../src/stack/cluster-layout';
import type { ClusterProcess } from '../../src/stack/cluster-processes';
import { minioNodeName, stopClusterProcess } from '../../src/stack/cluster-processes';
import type { ClusterStatus } from '../../src/stack/cluster-status';
import { clusterStatus } from '../../src/stack/cluster-status';
import { healBucket } from '../../src/stack/cluster-minio';
import { freePorts } from '../../src/stack/ports';
import { toolPath } from '../../src/stack/tools';
import { MINIO_CLIENT } from '../../src/stack/versions';
import type { MinioConnection } from '../../src/storage/minio-adapter';
import type { TestStack } from './stack-env';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { TRAIN_MODEL } from '../../src/contract';
import type { TrainModel } from '../../src/contract';
import type { TrainingSpecInput } from '../../src/spec';
import { startS3HoldProxy } from './s3-hold-proxy';
import type { S3HoldProxy } from './s3-hold-proxy';
import { testClient } from './training';
import { WorkerFleet } from './worker-fleet';

export interface RunningCluster {
  options: DurableFitOptions;
  layout: ClusterLayout;
  /** Workers' view of the primary site (the worker user's keys, not root's). */
  stack: TestStack;
  /** The same worker keys at the replica site. */
  replicaStack: TestStack;
  /** Root on the primary, for tests that inspect or damage objects. */
  rootS3: MinioConnection;
  status(): Promise<ClusterStatus>;
  /** Stops one process (SIGKILL by default: a node lost); `heal()` brings back whatever is missing. */
  kill(name: ClusterProcess, signal?: NodeJS.Signals): Promise<void>;
  /** `stack up --topology cluster` again: restarts what is not running, checks the rest. */
  heal(): Promise<void>;
  /** `mc admin heal --recursive` of the checkpoint bucket on the primary (after a drive was wiped). */
  healBucket(): Promise<string>;
  stop(): Promise<void>;
}

export const minioNode = minioNodeName;

/**
 * @param host the address every server listens on and clients use: loopback, or the root
 *   namespace's bridge address when workers run in network namespaces (test/helpers/netns.ts)
 */
export async function startCluster(
  host = '127.0.0.1',
  log = (line: string) => console.error(`[cluster] ${line}`),
): Promise<RunningCluster> {
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfit-cluster-'));
  const [frontend, ui, s3Port, consolePort] = (await freePorts(4, host)) as [number, number, number, number];
  const options = resolveOptions({
    ...process.env,
    DFIT_STATE_DIR: stateDir,
    TEMPORAL_ADDRESS: `${host}:${frontend}`,
    DFIT_TEMPORAL_UI_PORT: String(ui),
    DFIT_S3_ENDPOINT: `http://${host}:${s3Port}`,
    DFIT_S3_CONSOLE_PORT: String(consolePort),
    DFIT_S3_ROOT_USER: `dfit-cluster-${process.pid}`,
    DFIT_S3_ROOT_PASSWORD: `cluster-secret-${process.pid}-${Date.now()}`,
  });
  const started = Date.now();
  const first = await clusterUp(options, log).catch(async (err: unknown) => {
    // Never leave servers or data behind; the logs that say why go to test-artifacts first.
    await clusterDown(options, log);
    const logs = path.join(stateDir, 'cluster', 'logs');
    if (fs.existsSync(logs))
      fs.cpSync(logs, path.join('test-artifacts', 'cluster', `failed-${path.basename(stateDir)}`), {
        recursive: true,
      });
    await clusterReset(options, log);
    fs.rmSync(stateDir, { recursive: true, force: true });
    throw err;
  });
  log(`cluster up in ${Date.now() - started} ms (state ${stateDir})`);
  const layout = savedClusterLayout(options) as ClusterLayout;
  const keys = (file: string) => {
    const { accessKey, secretKey } = readCredentialsFile(file);
    return { accessKey, secretKey };
  };
  const s3 = (endpoint: string, file: string): MinioConnection => ({
    endpoint,
    ...keys(file),
    region: options.s3Region,
    bucket: options.bucket,
  });
  const stack = (connection: MinioConnection): TestStack => ({
    temporalAddress: options.temporalAddress,
    namespace: options.namespace,
    uiUrl: first.uiUrl,
    s3: connection,
    temporalBin: '',
    minioBin: '',
  });
  const replicaEndpoint = `http://${layout.host}:${layout.ports.replica.api}`;
  const running: RunningCluster = {
    options,
    layout,
    stack: stack(s3(first.s3Endpoint, first.credentials.worker)),
    replicaStack: stack(s3(replicaEndpoint, first.credentials.replicaWorker)),
    rootS3: {
      endpoint: first.s3Endpoint,
      accessKey: options.s3RootUser,
      secretKey: options.s3RootPassword,
      region: options.s3Region,
      bucket: options.bucket,
    },
    status: () => clusterStatus(options),
    async kill(name, signal = 'SIGKILL') {
      const pid = await stopClusterProcess(layout, name, signal);
      log(`${name} (pid ${pid}) stopped with ${signal}`);
    },
    async heal() {
      await clusterUp(options, log);
    },
    healBucket: () =>
      healBucket(
        {
          mcBin: toolPath(MINIO_CLIENT, options.toolsDir),
          primary: first.s3Endpoint,
          replica: replicaEndpoint,
          rootUser: options.s3RootUser,
          rootPassword: options.s3RootPassword,
        },
        options.bucket,
      ),
    async stop() {
      await clusterDown(options, log);
      await clusterReset(options, log);
      fs.rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return running;
}

/** What each cluster test file sets up before its tests: the cluster, a client on it, its workers. */
export interface ClusterRig {
  cluster: RunningCluster;
  client: Client;
  taskQueue: string;
  /** The workers' view of the primary site: through the hold proxy when one was asked for. */
  workerStack: TestStack;
  proxy?: S3HoldProxy;
  /** Starts a training run of `spec` on the rig's task queue, with workflow id `<name>-<now>`. */
  train(name: string, spec: TrainingSpecInput): Promise<WorkflowHandle<TrainModel>>;
  /** A worker fleet on the rig's task queue, stopped by `stop()` before anything else. */
  fleet(env: NodeJS.ProcessEnv, artifacts: string): WorkerFleet;
  /** Stops the fleets, the proxy, the client and the cluster, in that order. */
  stop(): Promise<void>;
}

/**
 * @param holdProxy workers reach node 1 through an S3 hold proxy (test/helpers/s3-hold-proxy.ts),
 *   so a test can hold one upload or load in flight
 */
export async function startClusterRig(
  taskQueue: string,
  { host, holdProxy = false }: { host?: string; holdProxy?: boolean } = {},
): Promise<ClusterRig> {
  const fleets: WorkerFleet[] = [];
  let proxy: S3HoldProxy | undefined;
  let close: (() => Promise<void>) | undefined;
  const cluster = await startCluster(host);
  const stop = async () => {
    for (const fleet of fleets) await fleet.stopAll();
    await proxy?.close();
    await close?.();
    await cluster.stop();
  };
  try {
    if (holdProxy) proxy = await startS3HoldProxy(cluster.stack.s3.endpoint);
    const connected = await testClient(cluster.stack);
    close = connected.close;
    const s3 = proxy ? { ...cluster.stack.s3, endpoint: proxy.endpoint } : cluster.stack.s3;
    return {
      cluster,
      client: connected.client,
      taskQueue,
      workerStack: { ...cluster.stack, s3 },
      proxy,
      train: (name, spec) =>
        connected.client.workflow.start<TrainModel>(TRAIN_MODEL, {
          taskQueue,
          workflowId: `${name}-${Date.now()}`,
          args: [spec],
        }),
      fleet(env, artifacts) {
        const fleet = new WorkerFleet(env, taskQueue, artifacts);
        fleets.push(fleet);
        return fleet;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The synthetic workload the cluster tests train: 2 epochs of 512 batches, a checkpoint every 40. */
export function clusterSpec(seed: number, task = 'synthetic'): TrainingSpecInput {
  return {
    task,
    epochs: 2,
    seed,
    batchSize: 16,
    hparams: { samples: 8192, features: 32, hidden: 256 },
    checkpoint: { everyBatches: 40, everySeconds: 0 },
    recovery: { heartbeatTimeoutSeconds: 3, backoffSeconds: 1 },
  };
}
