/**
 * A codec server (Temporal's remote codec protocol) so the Web UI and `temporal workflow show
 * --codec-endpoint` show encrypted payloads decoded: `POST …/decode` and `POST …/encode` take and
 * return `{ "payloads": [{ "metadata": { k: base64 }, "data": base64 }] }`. Keys stay in this process;
 * the Temporal server never sees clear text. CORS admits only the configured UI origins, and an
 * optional bearer token guards both endpoints.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

export interface CodecServerOptions {
  codec: PayloadCodec;
  /** 0 picks a free port. @default 8888 */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Browser origins allowed to call the server (the Temporal UI's). @default the local dev UI on 8233 */
  origins?: readonly string[];
  /** When set, requests must send `Authorization: Bearer <authToken>`. @default none */
  authToken?: string;
}

export interface RunningCodecServer {
  /** `http://host:port`: what `--ui-codec-endpoint` and `--codec-endpoint` take. */
  url: string;
  close(): Promise<void>;
}

export const DEFAULT_CODEC_PORT = 8888;
export const DEFAULT_UI_ORIGINS = ['http://127.0.0.1:8233', 'http://localhost:8233'] as const;
const MAX_BODY_BYTES = 16 * 1024 * 1024;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const origins = new Set(options.origins ?? DEFAULT_UI_ORIGINS);
  const server = http.createServer((req, res) => {
    void handle(req, res, options, origins);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? DEFAULT_CODEC_PORT, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

async function handle(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  options: CodecServerOptions,
  origins: ReadonlySet<string>,
): Promise<void> {
  const origin = req.headers.origin;
  if (origin !== undefined) {
    if (!origins.has(origin))
      return reply(res, 403, { error: `origin ${origin} is not allowed (--ui-origin)` });
    setCors(res, origin);
  }
  const route = new URL(req.url ?? '/', 'http://codec').pathname.split('/').pop();
  if (req.method === 'OPTIONS') return reply(res, 204);
  if (req.method === 'GET' && route === 'health') return reply(res, 200, { ok: true });
  if (req.method !== 'POST' || (route !== 'decode' && route !== 'encode'))
    return reply(res, 404, { error: 'use POST /decode or POST /encode' });
  if (options.authToken && !isAuthorized(req.headers.authorization, options.authToken))
    return reply(res, 401, { error: 'missing or wrong Authorization: Bearer <token> (--auth-token)' });
  try {
    const payloads = parsePayloads(await readBody(req));
    const out =
      route === 'decode' ? await options.codec.decode(payloads) : await options.codec.encode(payloads);
    reply(res, 200, { payloads: out.map(toJson) });
  } catch (err) {
    reply(res, err instanceof BadRequestError ? err.status : 422, { error: (err as Error).message });
  }
}

class BadRequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function setCors(res: http.ServerResponse, origin: string): void {
  res.setHeader('Access-Control-Allow-Origin', origin);
  res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Allow-Credentials', 'true');
  res.setHeader('Access-Control-Allow-Methods', 'POST, GET, OPTIONS');
  res.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
  res.setHeader('Access-Control-Max-Age', '600');
}

function isAuthorized(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header ?? '');
  const wanted = Buffer.from(`Bearer ${token}`);
  return given.length === wanted.length && crypto.timingSafeEqual(given, wanted);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new BadRequestError(`body over ${MAX_BODY_BYTES} bytes`, 413);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Protobuf JSON (`bytes` as base64) to SDK payloads. */
function parsePayloads(body: string): Payload[] {
  let parsed: { payloads?: unknown };
  try {
    parsed = JSON.parse(body) as { payloads?: unknown };
  } catch {
    throw new BadRequestError('body is not JSON: send {"payloads": [...]}');
  }
  if (!Array.isArray(parsed.payloads)) throw new BadRequestError('body has no "payloads" array');
  return (parsed.payloads as JsonPayload[]).map((p) => ({
    metadata: Object.fromEntries(
      Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64')]),
    ),
    data: Buffer.from(p.data ?? '', 'base64'),
  }));
}

function toJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(
      Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')]),
    ),
    data: Buffer.from(payload.data ?? []).toString('base64'),
  };
}

function reply(res: http.ServerResponse, status: number, body?: unknown): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body));
}
