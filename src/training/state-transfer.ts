/**
 * Moves training states from the trainer child to its parent without clogging the IPC channel.
 *
 * Why: the IPC socket is drained only when the child's event loop gets a turn, i.e. once per batch.
 * A 78 MB state sent through it trickled out at one socket buffer per batch and held every progress
 * message queued behind it for the rest of the epoch — so the worker stopped heartbeating and a
 * 6.5 M-parameter model was timed out as a crash at every intra-epoch checkpoint (issue 10 item 0).
 * Large states are therefore written to a file in one synchronous pass (tens of milliseconds) and
 * only their layout travels over IPC; small ones still go inline.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { NamedTensor, TrainingState } from '../state';
import { compactTensors } from './tensor-bytes';

/** States with more tensor bytes than this travel through a file. @default 1 MiB */
export const FILE_TRANSFER_MIN_BYTES = 1 << 20;

type TensorLayout = Omit<NamedTensor, 'data'> & { offset: number; length: number };

/** A state as it crosses the process boundary. */
export type PortableState =
  | { kind: 'inline'; state: TrainingState }
  | { kind: 'file'; file: string; meta: TrainingState['meta']; tensors: TensorLayout[] };

let sequence = 0;

/** Child side: makes a state portable, writing its tensor bytes to a new file in `dir` when large. */
export function packState(state: TrainingState, dir: string | undefined): PortableState {
  const total = state.tensors.reduce((sum, t) => sum + t.data.byteLength, 0);
  if (!dir || total < FILE_TRANSFER_MIN_BYTES) {
    return { kind: 'inline', state: { meta: state.meta, tensors: compactTensors(state.tensors) } };
  }
  const file = path.join(dir, `state-${process.pid}-${++sequence}.bin`);
  const fd = fs.openSync(file, 'wx', 0o600);
  const tensors: TensorLayout[] = [];
  try {
    let offset = 0;
    for (const { data, ...rest } of state.tensors) {
      fs.writeSync(fd, data, 0, data.byteLength, offset);
      tensors.push({ ...rest, offset, length: data.byteLength });
      offset += data.byteLength;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { kind: 'file', file, meta: state.meta, tensors };
}

/** Parent side: the state back in memory; a transfer file is read (off the event loop) and removed. */
export async function unpackState(portable: PortableState): Promise<TrainingState> {
  if (portable.kind === 'inline') return portable.state;
  try {
    const bytes = await fs.promises.readFile(portable.file);
    const tensors = portable.tensors.map(({ offset, length, ...rest }) => ({
      ...rest,
      data: new Uint8Array(bytes.buffer, bytes.byteOffset + offset, length),
    }));
    return { meta: portable.meta, tensors };
  } finally {
    await fs.promises.rm(portable.file, { force: true });
  }
}

/** A private folder for one trainer's transfer files (removed by `removeTransferDir`). */
export function createTransferDir(base: string): string {
  fs.mkdirSync(base, { recursive: true });
  return fs.mkdtempSync(path.join(base, 'dfit-trainer-'));
}

export function removeTransferDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}
