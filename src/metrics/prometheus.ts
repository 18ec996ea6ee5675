/**
 * Turns the worker's metrics on: installs the process's Temporal `Runtime` with its Prometheus
 * exporter on `host:port` and returns a recorder on that Runtime's meter, so `/metrics` serves the
 * SDK's `temporal_*` series and our `dfit_*` series from one endpoint. `Runtime.install` may run
 * once per process, before any connection or worker exists: entry points call this first.
 */
import type { FailureKind } from '../failure-kind';
import { Runtime } from '@temporalio/worker';
import type { RuntimeOptions } from '@temporalio/worker';
import { HISTOGRAM_BUCKETS, createMeterRecorder } from './meter-recorder';
import { NO_METRICS } from './recorder';
import type { MetricsRecorder } from './recorder';

export interface MetricsEndpointOptions {
  /** Off when undefined: the Runtime is installed without an exporter and nothing is recorded. */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
}

/** The endpoint could not be served (most often: the port is taken). */
export class MetricsEndpointError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  constructor(
    readonly address: string,
    cause: unknown,
  ) {
    super(
      `cannot serve Prometheus metrics on ${address}: ${cause instanceof Error ? cause.message : String(cause)}; ` +
        'choose another --metrics-port (DFIT_METRICS_PORT) or stop what listens there',
      { cause },
    );
  }
}

export interface InstalledMetrics {
  recorder: MetricsRecorder;
  /** `http://host:port/metrics`, when an endpoint is served. */
  url?: string;
}

/** `Runtime.install(runtime)` plus, when `endpoint.port` is set, the Prometheus exporter. */
export function installRuntimeWithMetrics(
  runtime: RuntimeOptions,
  endpoint: MetricsEndpointOptions,
): InstalledMetrics {
  if (endpoint.port === undefined) {
    Runtime.install(runtime);
    return { recorder: NO_METRICS };
  }
  const host = endpoint.host ?? '127.0.0.1';
  const address = `${host.includes(':') ? `[${host}]` : host}:${endpoint.port}`;
  try {
    Runtime.install({
      ...runtime,
      telemetryOptions: {
        ...runtime.telemetryOptions,
        metrics: { prometheus: { bindAddress: address, histogramBucketOverrides: { ...HISTOGRAM_BUCKETS } } },
      },
    });
  } catch (err) {
    // Other errors (a Runtime installed already) say what they are themselves.
    if (err instanceof Error && /prometheus|address/i.test(err.message))
      throw new MetricsEndpointError(address, err);
    throw err;
  }
  return { recorder: createMeterRecorder(Runtime.instance().metricMeter), url: `http://${address}/metrics` };
}
