/**
 * A TLS-terminating TCP proxy that requires client certificates, for the Temporal mTLS tests:
 * `temporal server start-dev` has no TLS flags, so this stands in front of it the way a load balancer
 * or Temporal's own TLS would. It advertises ALPN `h2` (gRPC clients insist on it) and forwards the
 * decrypted bytes to the plain server; it counts handshakes it accepted and refused.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface TlsProxyOptions {
  /** Where the plain server listens. */
  target: { host: string; port: number };
  /** The proxy's server certificate and key (PEM). */
  cert: string;
  key: string;
  /** CA whose client certificates are accepted (PEM). */
  clientCa: string;
}

export interface TlsProxy {
  port: number;
  /** `127.0.0.1:<port>` */
  address: string;
  /** Handshakes with a valid client certificate (each then forwarded). */
  accepted(): number;
  /** Handshakes refused (no certificate, an untrusted one, or not TLS at all). */
  refused(): number;
  close(): Promise<void>;
}

export async function startTlsProxy(options: TlsProxyOptions): Promise<TlsProxy> {
  let accepted = 0;
  let refused = 0;
  const sockets = new Set<net.Socket>();
  const server = tls.createServer(
    {
      cert: options.cert,
      key: options.key,
      ca: options.clientCa,
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (client) => {
      accepted++;
      const upstream = net.connect(options.target.port, options.target.host);
      for (const socket of [client, upstream]) {
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      }
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    },
  );
  server.on('tlsClientError', () => refused++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    address: `127.0.0.1:${port}`,
    accepted: () => accepted,
    refused: () => refused,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
