/**
 * An HTTP proxy in front of an S3 endpoint that, while failing, answers every request with HTTP 500
 * and S3's `InternalError` body (what a struggling S3 or MinIO answers), and otherwise forwards it
 * unchanged (the Host header included, so signatures still verify). toxiproxy works on TCP and
 * cannot answer with an HTTP status, so the fault matrix's "S3 answering 500s" cell uses this.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface S3ErrorProxy {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  /** Requests answered 500 so far. */
  readonly failed: number;
  /** From now on every request is answered 500 (`true`), or forwarded again (`false`). */
  fail(on: boolean): void;
  /**
   * Answers 500 to the next `count` requests that `match` accepts (all by default), then forwards
   * them again: a store that fails a few times and recovers. With `carriedOut`, those requests are
   * forwarded first and the store's answer is replaced by the 500 (it did the work, then failed).
   */
  failNext(
    count: number,
    match?: (method: string, url: string) => boolean,
    options?: { carriedOut?: boolean },
  ): void;
  close(): Promise<void>;
}

export async function startS3ErrorProxy(target: string): Promise<S3ErrorProxy> {
  const upstream = new URL(target);
  let failing = false;
  let failed = 0;
  let next = { count: 0, match: (_method: string, _url: string) => true, carriedOut: false };
  const fails = (req: http.IncomingMessage): 'refused' | 'carried out' | undefined => {
    if (failing) return 'refused';
    if (next.count <= 0 || !next.match(req.method ?? '', req.url ?? '')) return undefined;
    next.count--;
    return next.carriedOut ? 'carried out' : 'refused';
  };
  const answer500 = (req: http.IncomingMessage, res: http.ServerResponse) => {
    failed++;
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>' +
      '<Message>We encountered an internal error, please try again.</Message>' +
      `<Resource>${(req.url ?? '').replace(/[<&>]/g, '')}</Resource><RequestId>matrix</RequestId></Error>`;
    res.writeHead(500, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  };
  const server = http.createServer((req, res) => {
    const failure = fails(req);
    if (failure === 'refused') {
      req.resume(); // read the body (a PUT's) before answering
      req.once('end', () => answer500(req, res));
      return;
    }
    const out = http.request(
      {
        host: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
      },
      (answer) => {
        if (failure === 'carried out') {
          answer.resume();
          answer.once('end', () => answer500(req, res));
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get failed() {
      return failed;
    },
    fail: (on) => void (failing = on),
    failNext: (count, match = () => true, options = {}) =>
      void (next = { count, match, carriedOut: options.carriedOut ?? false }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
