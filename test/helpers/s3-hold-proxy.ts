/**
 * An HTTP proxy in front of MinIO that can hold one chosen request, for fault tests that must put a
 * worker into an exact phase without racing sleeps: the test asks to hold, say, the PUT of an epoch's
 * log entry, learns when the worker sent it (the worker is then inside that phase, and stays there),
 * and kills the worker. Requests are forwarded unchanged (the Host header included, so S3 signatures
 * still verify); a held request whose client is gone by its release is dropped.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HeldRequest {
  method: string;
  path: string;
  /** Forwards the request (if its client is still there). */
  release(): void;
}

/** A request the proxy received, as the test can read it back. */
export interface SeenRequest {
  method: string;
  /** Decoded. */
  path: string;
  /** The status MinIO answered with, once it has (absent: held, dropped, or not answered yet). */
  status?: number;
  /** It was held (and answered only if released while its client was still there). */
  held: boolean;
}

interface Hold {
  match(method: string, path: string): boolean;
  arrived(held: HeldRequest): void;
}

export interface S3HoldProxy {
  /** `http://127.0.0.1:<port>`: give it to workers as their S3 endpoint. */
  endpoint: string;
  /**
   * Holds the next request that `match`es (its path decoded); resolves once it has arrived (it waits
   * for `release`), rejects when none came within `timeoutMs`.
   */
  hold(match: (method: string, path: string) => boolean, timeoutMs?: number): Promise<HeldRequest>;
  /** Every request received so far, in order of arrival. */
  readonly requests: readonly SeenRequest[];
  close(): Promise<void>;
}

export async function startS3HoldProxy(target: string): Promise<S3HoldProxy> {
  const upstream = new URL(target);
  const holds: Hold[] = [];
  const requests: SeenRequest[] = [];
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, seen: SeenRequest) => {
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        seen.status = answer.statusCode;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  };
  const server = http.createServer((req, res) => {
    const method = req.method ?? '';
    const path = decodeURIComponent(req.url ?? ''); // keys are percent-encoded (`=` is %3D)
    const seen: SeenRequest = { method, path, held: false };
    requests.push(seen);
    const at = holds.findIndex((h) => h.match(method, path));
    if (at < 0) return forward(req, res, seen);
    const [hold] = holds.splice(at, 1);
    seen.held = true;
    hold?.arrived({
      method,
      path,
      release: () => (req.socket.destroyed ? undefined : forward(req, res, seen)),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    hold: (match, timeoutMs = 120_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no request to hold came in ${timeoutMs} ms`)),
          timeoutMs,
        );
        holds.push({
          match,
          arrived: (held) => {
            clearTimeout(timer);
            resolve(held);
          },
        });
      }),
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
