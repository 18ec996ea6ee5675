/** Small network helpers for starting servers on known or free ports. */
import net from 'node:net';

/** True when nothing listens on `host:port`. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port the OS says is free right now. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free ports. */
export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort(host));
  return [...ports];
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last error text on failure. */
export async function waitFor(
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 250,
): Promise<{ ok: true } | { ok: false; detail: string }> {
  const deadline = Date.now() + timeoutMs;
  let detail = 'no answer';
  while (Date.now() < deadline) {
    try {
      if (await check()) return { ok: true };
    } catch (err) {
      detail = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  return { ok: false, detail: `${detail} after ${Math.round(timeoutMs / 1000)}s` };
}

/** HTTP GET status code, or throws. */
export async function httpStatus(url: string, timeoutMs = 2000): Promise<number> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  await response.body?.cancel();
  return response.status;
}
