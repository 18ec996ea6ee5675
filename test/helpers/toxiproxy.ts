/**
 * A real Shopify toxiproxy server for fault tests (issue 22's fault matrix): TCP proxies between
 * worker processes and the test stack's MinIO and Temporal frontend, whose connections a test
 * refuses (proxy disabled: listener closed, open connections cut), black-holes (timeout toxics with
 * no timeout: connections stay open, no byte passes either way) or slows (latency toxics), and heals.
 * The binary is the pinned one from the tools cache (src/stack/versions.ts `TOXIPROXY_SERVER`,
 * built by `durable-fit stack build` like the Temporal CLI and MinIO). The server listens on a free
 * port; each proxy on a port the OS picks (`listen: 127.0.0.1:0`).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { freePort, waitFor } from '../../src/stack/ports';
import { failOnEarlyExit, spawnServer } from '../../src/stack/servers';
import { ensureTool } from '../../src/stack/tools';
import { TOXIPROXY_SERVER } from '../../src/stack/versions';

/** One proxy: `listen` is what a worker is given instead of the real server's address. */
export interface ToxiproxyProxy {
  name: string;
  /** `127.0.0.1:<port>`. */
  listen: string;
  /** `host:port` the proxy forwards to. */
  upstream: string;
  /** Connection refused: the listener closes and open connections are cut (a stopped server). */
  refuse(): Promise<void>;
  /**
   * Black hole: connections are accepted and stay open, and nothing passes in either direction (a
   * hung server, a partition that drops packets). Open connections are caught as well.
   */
  hang(): Promise<void>;
  /** Every chunk, both ways, is delayed by `latencyMs` (± `jitterMs`): a slow link or server. */
  slow(latencyMs: number, jitterMs?: number): Promise<void>;
  /** Enabled again, every toxic removed. */
  heal(): Promise<void>;
}

export interface Toxiproxy {
  /** `http://127.0.0.1:<port>`: the server's HTTP API. */
  api: string;
  version: string;
  /** Creates a proxy to `upstream` (`host:port`) listening on a free port. */
  proxy(name: string, upstream: string): Promise<ToxiproxyProxy>;
  /** Heals every proxy (toxiproxy's `POST /reset`). */
  reset(): Promise<void>;
  /** Stops the server (every proxy with it) and removes nothing else. */
  stop(): Promise<void>;
}

export interface StartToxiproxyOptions {
  toolsDir: string;
  /** Where the server's log goes. */
  logFile: string;
  log?: (line: string) => void;
}

/** Attempts at picking the API port: a free port can be taken before the server binds it. */
const PORT_ATTEMPTS = 4;

export async function startToxiproxy(options: StartToxiproxyOptions): Promise<Toxiproxy> {
  const bin = await ensureTool(TOXIPROXY_SERVER, {
    toolsDir: options.toolsDir,
    progress: options.log ?? ((line) => console.error(line)),
  });
  fs.mkdirSync(path.dirname(options.logFile), { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const child = spawnServer(bin, ['-host', '127.0.0.1', '-port', String(port)], options.logFile, {
      detached: false,
      env: { ...process.env, LOG_LEVEL: 'info' },
    });
    const api = `http://127.0.0.1:${port}`;
    try {
      await Promise.race([waitUp(api), failOnEarlyExit(child, 'toxiproxy', options.logFile)]);
    } catch (err) {
      await stopChild(child);
      if (attempt >= PORT_ATTEMPTS) throw err;
      continue;
    }
    const exitHook = () => child.kill('SIGKILL'); // never outlive the test process
    process.once('exit', exitHook);
    const version = ((await call(api, 'GET', '/version')) as { version?: string }).version ?? '?';
    return {
      api,
      version,
      proxy: (name, upstream) => createProxy(api, name, upstream),
      reset: async () => void (await call(api, 'POST', '/reset')),
      async stop() {
        process.removeListener('exit', exitHook);
        await stopChild(child);
      },
    };
  }
}

async function waitUp(api: string): Promise<void> {
  const up = await waitFor(
    async () => {
      const answer = await fetch(`${api}/version`);
      return answer.ok;
    },
    15_000,
    100,
  );
  if (!up.ok) throw new Error(`toxiproxy at ${api} did not answer: ${up.detail}`);
}

async function createProxy(api: string, name: string, upstream: string): Promise<ToxiproxyProxy> {
  const created = (await call(api, 'POST', '/proxies', {
    name,
    listen: '127.0.0.1:0',
    upstream,
    enabled: true,
  })) as { listen: string };
  const toxic = (suffix: string, type: string, stream: string, attributes: Record<string, number>) =>
    call(api, 'POST', `/proxies/${name}/toxics`, {
      name: `${name}-${suffix}-${stream}`,
      type,
      stream,
      toxicity: 1,
      attributes,
    });
  const heal = async () => {
    await call(api, 'POST', `/proxies/${name}`, { enabled: true });
    const toxics = (await call(api, 'GET', `/proxies/${name}/toxics`)) as { name: string }[];
    for (const t of toxics) await call(api, 'DELETE', `/proxies/${name}/toxics/${t.name}`);
  };
  return {
    name,
    listen: created.listen,
    upstream,
    refuse: async () => void (await call(api, 'POST', `/proxies/${name}`, { enabled: false })),
    async hang() {
      // Upstream first: no request that arrives from now on reaches the server.
      await toxic('hang', 'timeout', 'upstream', { timeout: 0 });
      await toxic('hang', 'timeout', 'downstream', { timeout: 0 });
    },
    async slow(latencyMs, jitterMs = 0) {
      for (const stream of ['upstream', 'downstream'])
        await toxic('slow', 'latency', stream, { latency: latencyMs, jitter: jitterMs });
    },
    heal,
  };
}

/** One call of toxiproxy's HTTP API; throws with the server's answer unless it is 2xx. */
async function call(api: string, method: string, route: string, body?: unknown): Promise<unknown> {
  const answer = await fetch(`${api}${route}`, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  const text = await answer.text();
  if (!answer.ok) throw new Error(`toxiproxy ${method} ${route}: ${answer.status} ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}
