/** For each headline figure that misses its target: why, from this run's numbers, and what would close it. */
import type { BenchResults } from './results';
import { headline } from './results';

export function missNotes(r: BenchResults): string[] {
  const h = headline(r);
  const notes: string[] = [];
  const longest = r.overhead?.find((o) => o.targetEpochS === h.overheadEpochS);
  if (longest && longest.ratio > 1.03) {
    const fixed = longest.durableEpochS.median - longest.bareEpochS.median;
    const short = r.overhead?.find((o) => o.targetEpochS !== longest.targetEpochS);
    const shortFixed = short ? short.durableEpochS.median - short.bareEpochS.median : NaN;
    notes.push(
      `**overheadRatio ${longest.ratio.toFixed(3)} at ${longest.targetEpochS} s epochs** (target ≤ 1.03): ` +
        `durable-fit adds ${fixed.toFixed(2)} s per epoch here${short ? ` and ${shortFixed.toFixed(2)} s at ${short.targetEpochS} s epochs` : ''}. ` +
        'What is inside: the epoch-end state goes over IPC to the worker, which hashes, encodes and uploads it and only then completes the activity; a workflow task records it and schedules the next epoch; intra-epoch saves do the same work in the background. ' +
        'On 2 cores that work and MinIO compete with the training thread for the second core (the bare loop has both cores to itself), so part of the gap is CPU contention rather than waiting. ' +
        'What would close it: start the next epoch from the warm in-memory state while the previous epoch-end upload finishes (the workflow records the checkpoint once durable, as with intra-epoch ones), and run on a machine with a core to spare for I/O.',
    );
  }
  const stall = r.stall?.find((s) => s.stallFraction > 0.01);
  if (stall) {
    notes.push(
      `**stallFraction ${stall.stallFraction.toFixed(4)}** (${stall.task}): the blocked time is the host copy of a ${(stall.checkpointBytes / 1e6).toFixed(1)} MB state plus its IPC serialisation; a longer interval or a shared-memory hand-off of the tensors would close it.`,
    );
  }
  const io = r.io?.find((x) => x.sizeMb === h.checkpointSizeMb);
  if (io && io.load.ratio < 0.9) {
    notes.push(
      `**checkpointLoadVsRaw ${io.load.ratio.toFixed(2)}** (target ≥ 0.9): every byte is SHA-256-checked before decoding, and the hash runs on the thread that reads the socket (≈1.4 GB/s with SHA-NI here) while raw getObject only copies. ` +
        'With size and hash passed in from the workflow record the `stat` round trip is gone (compare the "load with stat" column); the hash already runs incrementally as chunks arrive. ' +
        'Hashing on a worker thread was tried: posting each chunk (a structured-clone copy) cost the main thread as much as hashing it, so no gain. ' +
        'What would close it: download into a SharedArrayBuffer that a worker thread hashes as it fills (zero copy; the bytes consumers must accept shared memory), or parallel ranged GETs.',
    );
  }
  if (io && io.save.ratio < 0.9) {
    notes.push(
      `**checkpointSaveVsRaw ${io.save.ratio.toFixed(2)}**: the SHA-256 must be computed before the upload (it goes into the object metadata and the signed payload hash), serially with the upload.`,
    );
  }
  if (h.recoveryOverHeartbeatS !== null && h.recoveryOverHeartbeatS > 2) {
    notes.push(
      `**recoveryOverHeartbeatS ${h.recoveryOverHeartbeatS.toFixed(2)}**: after the server's heartbeat timer fires, the workflow task may wait for the sticky-queue timeout (1 s) before another worker takes it, then the resume downloads, verifies and restores the checkpoint in the trainer process. A shorter sticky timeout for training queues and a smaller checkpoint shorten it.`,
    );
  }
  if (h.sigtermResumeS !== null && h.sigtermResumeS > 2) {
    notes.push(
      `**sigtermResumeS ${h.sigtermResumeS.toFixed(2)}**: the shutting-down worker saves a checkpoint at the next batch boundary and uploads it before failing the activity; then the workflow task and the resume (download, verify, restore) follow.`,
    );
  }
  return notes;
}
