/**
 * Shard decoding off the event loop. Decoding a Parquet shard (Snappy, then the rows' byte arrays
 * into columns) is CPU work on the thread that awaits it; on a trainer's main thread it runs between
 * training steps and stretches the epoch (bench/data-stall.ts measured mnist-cnn's streamed epochs
 * at 2-3× its in-memory ones on native). One worker thread per process (started on first use, never
 * keeping the process alive while idle) runs `decodeShard` instead; the decoded columns come back
 * transferred, not copied. Fetching and the SHA-256 check stay with the caller.
 */
import { Worker } from 'node:worker_threads';
import type { ColumnSpec } from './manifest';
import type { ColumnValues, ShardData } from './shard-codec';

// Plain JavaScript run with `eval`: it loads shard-codec from this checkout's sources through tsx
// (as bin/durable-fit.cjs does) or from the compiled dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.codec.endsWith('.ts')) require('tsx/cjs/api').register();
const { decodeShard } = require(workerData.codec);
// A full collection after each shard: this thread's garbage is mostly large buffers (the received
// bytes, Snappy output) that V8 would otherwise let pile up; measured with 32 MB shards, a window of
// 4: peak RSS growth 324-379 MB with it, 406-438 MB without, 345-347 MB decoding on the main thread.
require('node:v8').setFlagsFromString('--expose-gc');
const collect = require('node:vm').runInNewContext('gc');
parentPort.on('message', async ({ id, bytes, columns, describe }) => {
  try {
    const data = await decodeShard(bytes, columns, describe);
    const out = [...data.columns];
    parentPort.postMessage({ id, rows: data.rows, columns: out }, out.map(([, v]) => v.buffer));
    collect();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    parentPort.postMessage({ id, error: message.startsWith(describe) ? message : describe + ': ' + message });
  }
});
`;

interface Reply {
  id: number;
  rows?: number;
  columns?: [string, ColumnValues][];
  error?: string;
}

interface Pending {
  resolve(data: ShardData): void;
  reject(err: Error): void;
}

let thread: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

function decodeThread(): Worker {
  if (thread) return thread;
  const started = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { codec: require.resolve('./shard-codec') },
  });
  started.on('message', (reply: Reply) => {
    const waiter = pending.get(reply.id);
    if (!waiter) return;
    pending.delete(reply.id);
    if (pending.size === 0) started.unref();
    if (reply.error !== undefined) waiter.reject(new Error(reply.error));
    else waiter.resolve({ rows: reply.rows ?? 0, columns: new Map(reply.columns) });
  });
  const failAll = (err: Error) => {
    if (thread === started) thread = undefined;
    const waiters = [...pending.values()];
    pending.clear();
    for (const waiter of waiters) waiter.reject(err);
  };
  started.on('error', (err) => failAll(new Error(`the shard decoding thread failed: ${err.message}`)));
  started.on('exit', (code) => failAll(new Error(`the shard decoding thread exited (code ${code}); retry`)));
  started.unref(); // held only while a shard is being decoded
  thread = started;
  return started;
}

/** `decodeShard(bytes, columns, describe)` in the decoding thread; `bytes` is copied to it. */
export function decodeShardOffThread(
  bytes: Uint8Array,
  columns: readonly ColumnSpec[],
  describe: string,
): Promise<ShardData> {
  const worker = decodeThread();
  const id = nextId++;
  return new Promise<ShardData>((resolve, reject) => {
    pending.set(id, { resolve, reject });
    worker.ref();
    // A view into a larger buffer would send all of it: send just the shard's bytes.
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
    worker.postMessage({ id, bytes: whole ? bytes : bytes.slice(), columns, describe });
  });
}
