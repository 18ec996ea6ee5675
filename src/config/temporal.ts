/** Temporal connection settings, read with `@temporalio/envconfig` so profiles, TLS and API keys work. */
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { ClientConnectConfig } from '@temporalio/envconfig';
import { DEFAULTS } from './options';
import type { DurableFitOptions, Env } from './options';

/**
 * Connection options for a Temporal client or worker. `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`,
 * `TEMPORAL_API_KEY`, `TEMPORAL_TLS*`, `TEMPORAL_PROFILE` and the profile file all apply, as for the
 * `temporal` CLI. An address or namespace set explicitly in the options (flag or env) wins over the
 * profile; the built-in defaults only fill what the profile leaves unset.
 */
export function temporalConnectConfig(options: DurableFitOptions, env: Env): ClientConnectConfig {
  const vars = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  const loaded = loadClientConnectConfig({ profile: vars.TEMPORAL_PROFILE, overrideEnvVars: vars });
  const explicit = (value: string, fallback: string) => (value !== fallback ? value : undefined);
  return {
    connectionOptions: {
      ...loaded.connectionOptions,
      address:
        explicit(options.temporalAddress, DEFAULTS.temporalAddress) ??
        loaded.connectionOptions.address ??
        options.temporalAddress,
    },
    namespace: explicit(options.namespace, DEFAULTS.namespace) ?? loaded.namespace ?? options.namespace,
  };
}
