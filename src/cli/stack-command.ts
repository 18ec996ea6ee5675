/** `durable-fit stack …` */
import { Command, Option } from 'commander';
import { ensureNativeBuild, nativeCacheRoot } from '../native';
import { ensureTool } from '../stack/tools';
import { TOOLS } from '../stack/versions';
import { stackDown, stackReset, stackStatus, stackUp } from '../stack/stack';
import type { StackStatus } from '../stack/stack';
import { buildCluster, clusterDown, clusterReset, clusterUp } from '../stack/cluster';
import { clusterStatus } from '../stack/cluster-status';
import type { ClusterStatus } from '../stack/cluster-status';
import type { ConnectionFlags } from './common';
import { fail, optionsFromFlags, withConnectionFlags } from './common';

const log = (line: string) => process.stderr.write(`${line}\n`);

type Topology = 'dev' | 'cluster';

/** `--topology dev|cluster` (README: Production; docs/operations.md). */
function topologyOption(): Option {
  return new Option(
    '--topology <kind>',
    'dev: the Temporal dev server and one MinIO; cluster: Temporal services on PostgreSQL, a MinIO erasure set and a replica site',
  )
    .choices(['dev', 'cluster'])
    .default('dev')
    .env('DFIT_STACK_TOPOLOGY');
}

export function stackCommand(): Command {
  const stack = new Command('stack').description('run the local Temporal dev server and MinIO');
  withConnectionFlags(stack.command('up'))
    .description('build (first time) and start the local stack; a no-op when it already runs')
    .option('--json', 'print the status as JSON')
    .option('--tls', 'MinIO serves TLS only, with a certificate from a local CA made in the state folder')
    .addOption(topologyOption())
    .addOption(
      new Option(
        '--codec-endpoint <url>',
        'codec server the Web UI decodes encrypted payloads through (durable-fit codec-server)',
      ).env('DFIT_CODEC_ENDPOINT'),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit stack up\n  $ durable-fit stack up --ui-port 8300 --json\n  $ durable-fit stack up --tls\n' +
        '  $ durable-fit stack up --codec-endpoint http://127.0.0.1:8888\n' +
        '  $ durable-fit stack up --topology cluster\n\n' +
        'Workers and the CLI find the MinIO users that `stack up` creates (credentials/worker.json and\n' +
        'credentials/reader.json in the state folder, with the endpoint and CA): no root key leaves the stack.',
    )
    .action(
      async (
        flags: ConnectionFlags & {
          json?: boolean;
          tls?: boolean;
          codecEndpoint?: string;
          topology: Topology;
        },
      ) => {
        try {
          const codec = flags.codecEndpoint ? { codecEndpoint: flags.codecEndpoint } : {};
          if (flags.topology === 'cluster') {
            if (flags.tls)
              fail('--tls is for the dev topology; the cluster topology serves plain HTTP on loopback');
            printCluster(await clusterUp(optionsFromFlags(flags), log, codec), flags.json);
            return;
          }
          print(await stackUp(optionsFromFlags(flags), log, { tls: flags.tls, ...codec }), flags.json);
        } catch (err) {
          fail(err);
        }
      },
    );
  withConnectionFlags(stack.command('build'))
    .description(
      'build the pinned Temporal CLI, MinIO server and mc client, and native TensorFlow, into the tools cache (when absent)',
    )
    .addOption(topologyOption())
    .action(async (flags: ConnectionFlags & { topology: Topology }) => {
      try {
        const { toolsDir } = optionsFromFlags(flags);
        if (flags.topology === 'cluster')
          for (const built of await buildCluster(optionsFromFlags(flags), log))
            process.stdout.write(`${built}\n`);
        for (const tool of TOOLS)
          process.stdout.write(`${await ensureTool(tool, { toolsDir, progress: log })}\n`);
        await buildNativeOptional(toolsDir);
      } catch (err) {
        fail(err);
      }
    });
  withConnectionFlags(stack.command('down'))
    .description('stop the servers that `stack up` started, either topology (data is kept)')
    .action(async (flags: ConnectionFlags) => {
      try {
        await clusterDown(optionsFromFlags(flags), log);
        await stackDown(optionsFromFlags(flags), log);
      } catch (err) {
        fail(err);
      }
    });
  withConnectionFlags(stack.command('status'))
    .description('show addresses, binaries and whether the servers run')
    .option('--json', 'print as JSON')
    .addOption(topologyOption())
    .action(async (flags: ConnectionFlags & { json?: boolean; topology: Topology }) => {
      try {
        if (flags.topology === 'cluster')
          printCluster(await clusterStatus(optionsFromFlags(flags)), flags.json);
        else print(stackStatus(optionsFromFlags(flags)), flags.json);
      } catch (err) {
        fail(err);
      }
    });
  withConnectionFlags(stack.command('reset'))
    .description('delete all local stack data (workflow history, checkpoints, logs); the stack must be down')
    .option('--yes', 'confirm the deletion')
    .addOption(topologyOption())
    .action(async (flags: ConnectionFlags & { yes?: boolean; topology: Topology }) => {
      if (!flags.yes) fail('`stack reset` deletes all local runs and checkpoints; add --yes to confirm');
      try {
        if (flags.topology === 'cluster') await clusterReset(optionsFromFlags(flags), log);
        else await stackReset(optionsFromFlags(flags), log);
      } catch (err) {
        fail(err);
      }
    });
  return stack;
}

/** Native TensorFlow is optional: without it workers run on wasm, so a failure is a warning here. */
async function buildNativeOptional(toolsDir: string): Promise<void> {
  try {
    await ensureNativeBuild({ cacheRoot: nativeCacheRoot(toolsDir), progress: log });
  } catch (err) {
    log(`warning: native TensorFlow not built (${err instanceof Error ? err.message : String(err)})`);
  }
}

function print(status: StackStatus, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return;
  }
  const state = (s: { running: boolean; pid?: number }) => (s.running ? `running (pid ${s.pid})` : 'stopped');
  process.stdout.write(
    [
      `Temporal   ${status.temporalAddress}  namespace ${status.namespace}  ${state(status.servers.temporal)}`,
      `Web UI     ${status.uiUrl}`,
      `MinIO      ${status.s3Endpoint}  bucket ${status.bucket}  ${state(status.servers.minio)}`,
      `Console    ${status.s3ConsoleUrl}`,
      ...(status.s3CaFile ? [`TLS CA     ${status.s3CaFile}  (DFIT_S3_CA_FILE for other clients)`] : []),
      `S3 users   worker ${status.credentials.worker}`,
      `           read-only ${status.credentials.reader}`,
      `Task queue ${status.taskQueue}`,
      `Data       ${status.stateDir}`,
      '',
    ].join('\n'),
  );
}

function printCluster(status: ClusterStatus, json?: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
    return;
  }
  const state = (s: { running: boolean; pid?: number; address: string }) =>
    `${s.address}  ${s.running ? `running (pid ${s.pid})` : 'stopped'}`;
  const { temporal, minio } = status;
  const lag = minio.replica.replication;
  process.stdout.write(
    [
      `Temporal ${temporal.version}, namespace ${status.namespace}`,
      ...Object.entries(temporal.services).map(([name, s]) => `  ${name.padEnd(9)} ${state(s)}`),
      `  postgres  ${state(temporal.persistence)}  data ${temporal.persistence.dataDir}`,
      `Web UI     ${status.uiUrl}  ${temporal.ui.running ? 'running' : 'stopped'}`,
      `MinIO      ${status.s3Endpoint}  bucket ${status.bucket}, erasure set of ${minio.nodes.length} nodes × ${minio.nodes[0]?.drives.length ?? 0} drives`,
      ...minio.nodes.map((n, i) => `  node${i + 1}     ${state(n)}`),
      `Replica    ${state(minio.replica)}`,
      `  lag      ${'error' in lag ? lag.error : `${lag.pending} objects pending, oldest ${lag.lagSeconds} s`}`,
      `S3 users   worker ${status.credentials.worker}  (replica site: ${status.credentials.replicaWorker})`,
      `Task queue ${status.taskQueue}`,
      `Data       ${status.stateDir}`,
      '',
    ].join('\n'),
  );
}
