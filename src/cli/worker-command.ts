/** `durable-fit worker`: a training worker process. */
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DefaultLogger } from '@temporalio/worker';
import { installRuntimeWithMetrics } from '../metrics/prometheus';
import { createWorker } from '../worker/create-worker';
import { BACKEND_REQUESTS } from '../training/backend';
import { formatBytes, parseByteSize } from '../config/byte-size';
import type { BackendInfo } from '../state';
import type { DurableFitOptions } from '../config/options';
import type { ConnectionFlags } from './common';
import { fail, optionsFromFlags, withConnectionFlags } from './common';

interface WorkerFlags extends ConnectionFlags {
  taskModule: string[];
  backend?: string;
  concurrency: number;
  identity?: string;
  logLevel: string;
  metricsPort?: number;
  metricsHost?: string;
  trainerMemoryLimit?: number;
}

export function workerCommand(): Command {
  return withConnectionFlags(new Command('worker'))
    .description('run a training worker: polls the task queue and trains epochs durably')
    .addOption(
      new Option('--backend <name>', 'tfjs backend').choices([...BACKEND_REQUESTS]).env('DFIT_BACKEND'),
    )
    .addOption(
      new Option('--concurrency <n>', 'epochs trained at once, each in its own trainer process')
        .default(1)
        .argParser(parseConcurrency),
    )
    .option('--identity <name>', 'worker identity shown in the Web UI')
    .addOption(
      new Option(
        '--trainer-memory-limit <size>',
        'memory limit of each trainer process, e.g. 1GiB (a cgroup per trainer; refused where none can be made)',
      ).argParser(parseMemoryLimit),
    )
    .option(
      '--task-module <path>',
      'a module that registers your tasks (repeatable; also DFIT_TASK_MODULES)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .addOption(
      new Option('--log-level <level>', 'Temporal SDK log level')
        .choices(['DEBUG', 'INFO', 'WARN', 'ERROR'])
        .default('WARN'),
    )
    .addOption(
      new Option(
        '--metrics-port <port>',
        'serve Prometheus metrics (Temporal SDK and durable-fit) on this port',
      )
        .env('DFIT_METRICS_PORT')
        .argParser(parseMetricsPort),
    )
    .addOption(
      new Option('--metrics-host <host>', 'address the metrics endpoint binds to (default 127.0.0.1)').env(
        'DFIT_METRICS_HOST',
      ),
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit worker\n  $ durable-fit worker --concurrency 2\n' +
        '  $ durable-fit worker --metrics-port 9464    # scrape http://127.0.0.1:9464/metrics\n' +
        '  $ DFIT_BACKEND=wasm durable-fit worker --task-queue gpu-a100 --identity trainer-1\n\n' +
        "The worker polls the task queue and its backend queue <task queue>@<backend fingerprint>: a run's epochs\n" +
        'go only to workers of the backend that wrote its checkpoints (docs/routing.md).\n' +
        'SIGTERM or Ctrl-C: the running epoch saves a checkpoint at the next batch boundary, and the run resumes\n' +
        'from it on another worker (a preemption). SIGKILL: the run resumes after the heartbeat timeout.',
    )
    .action(async (flags: WorkerFlags) => {
      try {
        const options = optionsFromFlags(flags);
        if (flags.metricsPort !== undefined) options.metricsPort = flags.metricsPort;
        if (flags.metricsHost) options.metricsHost = flags.metricsHost;
        if (flags.trainerMemoryLimit !== undefined)
          options.trainerMemoryLimitBytes = flags.trainerMemoryLimit;
        // Once per process, before any connection: the Runtime carries the metrics exporter.
        const metrics = installRuntimeWithMetrics(
          { logger: new WorkerLogger(flags.logLevel as 'WARN') },
          { port: options.metricsPort, host: options.metricsHost },
        );
        if (flags.backend) options.backend = flags.backend;
        options.taskModules.push(...flags.taskModule.map((file) => path.resolve(file)));
        const created = await createWorker(options, process.env, {
          maxConcurrentTrainings: flags.concurrency,
          identity: flags.identity,
          metrics: metrics.recorder,
        });
        const route = created.route ? ` and backend queue "${created.route}"` : '';
        const cap = created.memoryCap
          ? `, trainer memory limit ${formatBytes(created.memoryCap.limitBytes)} (cgroup v${created.memoryCap.parent.version})`
          : '';
        process.stderr.write(
          `durable-fit worker ${created.worker.options.identity} polling task queue "${options.taskQueue}"${route} ` +
            `on ${options.temporalAddress} (backend ${describeBackend(created.backend)}, ` +
            `${flags.concurrency} training slot(s)${cap})${metrics.url ? `; metrics on ${metrics.url}` : ''}; ` +
            `${describeSecurity(options)}\n`,
        );
        await created.run();
        await created.connection.close();
      } catch (err) {
        fail(err);
      }
    });
}

function parseConcurrency(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new InvalidArgumentError('a whole number of trainer slots, at least 1');
  return n;
}

function parseMemoryLimit(value: string): number {
  const bytes = parseByteSize(value);
  if (bytes === undefined) throw new InvalidArgumentError(`"${value}" is not a size: use e.g. 1GiB or 800MB`);
  return bytes;
}

function parseMetricsPort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new InvalidArgumentError(`"${value}" is not a port number (1-65535)`);
  return port;
}

/**
 * `payload encryption on, checkpoint signing off, S3 TLS on`: what protects this worker's data, so an
 * operator sees a missing key at start-up, not in an audit (names only, never a key).
 */
export function describeSecurity(options: DurableFitOptions): string {
  const on = (yes: boolean, what: string) => `${what} ${yes ? 'on' : 'off'}`;
  return [
    on(!!(options.encryptionKeysFile || options.encryptionKeys), 'payload encryption'),
    on(!!(options.ckptSigningKey || options.ckptSigningKeysFile), 'checkpoint signing'),
    on(options.s3Endpoint.startsWith('https:'), 'S3 TLS'),
  ].join(', ');
}

/** `tensorflow (tfjs-node 4.22.0, tensorflow 2.21.0, …)`: what trains here, not what was asked for. */
function describeBackend(backend: BackendInfo): string {
  const versions = Object.entries(backend.versions).map(([k, v]) => `${k} ${v}`);
  return versions.length ? `${backend.name} (${versions.join(', ')})` : backend.name;
}

/**
 * The SDK's logger, less one expected warning: the backend-queue worker runs epochs only, so the
 * SDK's "No workflows registered" at its start is by design and would only puzzle a reader.
 */
class WorkerLogger extends DefaultLogger {
  override log(...args: Parameters<DefaultLogger['log']>): void {
    if (args[1].startsWith('No workflows registered')) return;
    super.log(...args);
  }
}
