/**
 * SHA-256 off the event loop. A 500 MB checkpoint takes seconds to hash; on the worker's main thread
 * that blocks the activity's heartbeats and the Temporal SDK for as long. One worker thread (started
 * on first use, never keeping the process alive) does the hashing instead:
 *
 * - `hashShared`: bytes we own (a download) live in a `SharedArrayBuffer`; the thread reads them in
 *   place, no copy, as the caller reports how far the buffer is filled, so hashing overlaps the
 *   download. Several hashes over ranges of the same bytes (the file hash and the payload hash) go
 *   in one pass.
 * - `hashChunks`: bytes someone else owns (the trainer's tensors, still in use) cannot be transferred
 *   without detaching them under their owner, so they are copied in 4 MiB slices into a few shared
 *   slots that the thread hashes in place; the event loop spends a memcpy per slice, never a hash.
 */
import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** A hash over `[begin, end)` of a shared buffer, after `prefix` (e.g. the payload hash's layout line). */
export interface HashRange {
  begin: number;
  end: number;
  prefix?: string;
}

/** One in-place hashing job: report progress with `filled`, then read the hex digests with `digests`. */
export interface SharedHashJob {
  /** The first `upTo` bytes of the buffer are final: the thread may hash them. */
  filled(upTo: number): void;
  /** Adds a hash over a range (it catches up on bytes already filled). Returns its index. */
  addRange(range: HashRange): number;
  /** Hex digests, one per range in the order added, once `filled(size)` was reported. */
  digests(): Promise<string[]>;
  /** Frees the thread's side of the job (after an error). */
  cancel(): void;
}

const SLICE_BYTES = 4 * 1024 * 1024;
const SLOTS = 4;
/** Smaller bodies are hashed on the calling thread (well under a millisecond). */
const INLINE_BYTES = 256 * 1024;

// Plain JavaScript run with `eval`: works the same from tsx sources and from compiled dist/.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
function advance(job) {
  for (const h of job.hashes) {
    const stop = Math.min(h.end, job.upTo);
    if (h.pos < stop) { h.hash.update(job.view.subarray(h.pos, stop)); h.pos = stop; }
  }
}
parentPort.on('message', (m) => {
  let job = jobs.get(m.id);
  if (m.type === 'open') {
    jobs.set(m.id, { view: m.sab ? new Uint8Array(m.sab) : undefined, upTo: 0, hashes: [] });
  } else if (!job) {
    return;
  } else if (m.type === 'range') {
    const hash = createHash('sha256');
    if (m.prefix !== undefined) hash.update(m.prefix, 'utf8');
    job.hashes.push({ hash, pos: m.begin, end: m.end });
    advance(job);
  } else if (m.type === 'filled') {
    job.upTo = Math.max(job.upTo, m.upTo);
    advance(job);
  } else if (m.type === 'chunk') {
    job.hashes[0].hash.update(new Uint8Array(m.slot, 0, m.length));
    parentPort.postMessage({ id: m.id, type: 'ack', slot: m.slotIndex });
  } else if (m.type === 'digest') {
    jobs.delete(m.id);
    parentPort.postMessage({ id: m.id, type: 'digests', hex: job.hashes.map((h) => h.hash.digest('hex')) });
  } else if (m.type === 'cancel') {
    jobs.delete(m.id);
  }
});
`;

interface Reply {
  id: number;
  type: 'ack' | 'digests';
  hex?: string[];
  slot?: number;
}

let thread: Worker | undefined;
let nextId = 1;
let running = 0;
/**
 * Shared slices that `hashChunks` copies into, allocated once and reused: a fresh buffer per slice
 * page-faults and feeds the garbage collector about as much as hashing the bytes would cost.
 */
const freeSlots: number[] = [];
const slots: SharedArrayBuffer[] = [];
let slotWaiters: (() => void)[] = [];

/** Keeps the process alive while a job waits for the thread; returns the release. */
function hold(worker: Worker): () => void {
  if (running++ === 0) worker.ref();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--running === 0) worker.unref();
  };
}
const listeners = new Map<number, (reply: Reply) => void>();

function hashThread(): Worker {
  if (thread) return thread;
  const started = new Worker(WORKER_SOURCE, { eval: true });
  started.on('message', (reply: Reply) => {
    if (reply.slot !== undefined) freeSlot(reply.slot);
    listeners.get(reply.id)?.(reply);
  });
  started.on('error', (err) => failAll(err));
  started.on('exit', (code) => failAll(new Error(`the SHA-256 worker thread exited (code ${code})`)));
  started.unref(); // held only while a job runs (`hold`): an idle thread must not keep a process alive
  thread = started;
  return started;
}

function failAll(err: Error): void {
  thread = undefined;
  for (let i = 0; i < slots.length; i++) if (!freeSlots.includes(i)) freeSlot(i); // the thread is gone
  for (const listener of [...listeners.values()]) listener({ id: -1, type: 'digests', hex: [err.message] });
  listeners.clear();
}

/** Hashes the shared buffer `sab` in place as it is filled; see `SharedHashJob`. */
export function hashShared(sab: SharedArrayBuffer, ranges: readonly HashRange[] = []): SharedHashJob {
  const worker = hashThread();
  const id = nextId++;
  const release = hold(worker);
  let count = 0;
  worker.postMessage({ id, type: 'open', sab });
  const job: SharedHashJob = {
    filled: (upTo) => worker.postMessage({ id, type: 'filled', upTo }),
    addRange: (range) => {
      worker.postMessage({ id, type: 'range', ...range });
      return count++;
    },
    digests: () => requestDigests(worker, id).finally(release),
    cancel: () => {
      worker.postMessage({ id, type: 'cancel' });
      release();
    },
  };
  for (const range of ranges) job.addRange(range);
  return job;
}

/** Hex SHA-256 of `chunks` in order, computed in the worker thread (the chunks are not touched). */
export async function hashChunks(chunks: readonly Uint8Array[]): Promise<string> {
  const total = chunks.reduce((n, c) => n + c.byteLength, 0);
  if (total < INLINE_BYTES) {
    const hash = createHash('sha256'); // a message round trip would cost more than the hash
    for (const chunk of chunks) hash.update(chunk);
    return hash.digest('hex');
  }
  const worker = hashThread();
  const id = nextId++;
  const release = hold(worker);
  worker.postMessage({ id, type: 'open' });
  worker.postMessage({ id, type: 'range', begin: 0, end: 0 });
  try {
    for (const chunk of chunks) {
      for (let at = 0; at < chunk.byteLength; at += SLICE_BYTES) {
        const slotIndex = await takeSlot();
        assertAlive(worker);
        const slice = chunk.subarray(at, at + SLICE_BYTES);
        const slot = slots[slotIndex] as SharedArrayBuffer;
        new Uint8Array(slot).set(slice); // a memcpy into warm memory; the thread hashes it there
        worker.postMessage({ id, type: 'chunk', slot, slotIndex, length: slice.byteLength });
      }
    }
    const [hex] = await requestDigests(worker, id);
    return hex ?? '';
  } catch (err) {
    listeners.delete(id);
    worker.postMessage({ id, type: 'cancel' });
    throw err;
  } finally {
    release();
  }
}

/** A free slice slot (waits for one; at most `SLOTS` exist). */
async function takeSlot(): Promise<number> {
  for (;;) {
    const free = freeSlots.pop();
    if (free !== undefined) return free;
    if (slots.length < SLOTS) return slots.push(new SharedArrayBuffer(SLICE_BYTES)) - 1;
    await new Promise<void>((resolve) => slotWaiters.push(resolve));
  }
}

function freeSlot(index: number): void {
  freeSlots.push(index);
  const waiters = slotWaiters;
  slotWaiters = [];
  for (const wake of waiters) wake();
}

function assertAlive(worker: Worker): void {
  if (thread !== worker) throw new Error('the SHA-256 worker thread exited; retry (a new one starts)');
}

function requestDigests(worker: Worker, id: number): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    if (thread !== worker) {
      reject(new Error('the SHA-256 worker thread exited; retry (a new one starts)'));
      return;
    }
    listeners.set(id, (reply) => {
      if (reply.type !== 'digests') return; // a late ack of a chunk
      listeners.delete(id);
      if (reply.id === -1) reject(new Error(`SHA-256 in the worker thread failed: ${reply.hex?.[0]}`));
      else resolve(reply.hex ?? []);
    });
    worker.postMessage({ id, type: 'digest' });
  });
}
