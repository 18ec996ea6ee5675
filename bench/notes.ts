/** For each figure that misses its target: by how much, and where the time goes, from this run's phase breakdowns. */
import type { Phase } from './phases';
import type { BenchResults, HeadlineRow } from './results';
import { headlineRows } from './results';

export function missNotes(r: BenchResults): string[] {
  return headlineRows(r)
    .filter((x) => x.target && x.verdict.includes('missed'))
    .map((x) => `**${x.figure} ${x.value?.toFixed(3) ?? '?'} at ${x.at}**: ${x.verdict}. ${why(r, x)}`);
}

function why(r: BenchResults, x: HeadlineRow): string {
  switch (x.target) {
    case 'overheadRatio10s':
    case 'overheadRatio1s':
    case 'boundaryGapMs': {
      const b = r.boundary?.[0];
      return b
        ? `Largest phases of an epoch boundary (${b.task}): ${largest(b.phases)}. On 2 cores the upload, hashing and MinIO also compete with the training thread.`
        : 'No boundary breakdown in this run.';
    }
    case 'recoveryOverHeartbeatS':
    case 'sigtermResumeS': {
      const k = r.recovery?.find((y) =>
        x.target === 'sigtermResumeS' ? y.signal === 'SIGTERM' : y.signal === 'SIGKILL',
      );
      return k ? `Largest phases of the recovery: ${largest(k.phases)}.` : '';
    }
    case 'stallLostFraction':
      return 'Each save captures the state at a batch boundary and sends it to the worker, which hashes and uploads it while training continues; on 2 cores that work takes CPU from the training thread.';
    case 'checkpointSaveVsRaw':
      return 'A save encodes the state, hashes every byte (SHA-256 of the payload and of the file) and uploads create-only, parts in parallel; raw `putObject` only sends. On 2 cores the hashing, the upload and MinIO share the CPU; compare the MB/s columns of the I/O table.';
    case 'checkpointLoadVsRaw':
      return 'A load fetches 4 byte ranges at once into one shared buffer that a worker thread SHA-256-hashes as it fills, and decodes only after the hash checks; raw `getObject` reads one stream and checks nothing. On 2 cores MinIO serving the object, the socket reads and the hash (~1.4 GB/s a core with SHA-NI) share the CPU, so the hash is not free even off the main thread. Verification is kept on purpose: no checkpoint is decoded before its hash checks.';
    case 'engineVsBare':
      return 'The engine adds an owned data order, per-step seeds, a cursor and event-loop yields per step.';
    case 'peerRatio':
    case 'peerVsBackupRatio':
      return "On eager `tensorflow`, tfjs-node runs a training step as one eager TensorFlow op after another (forward, the JS tape's gradients, Adam's updates), while Keras runs one traced graph per step that Grappler and oneDNN optimize (fused conv + bias + relu, layouts); earlier measurements split the gap into graph execution (~2× with oneDNN's rewrites off) and oneDNN's graph rewrites (~1.6× more), which reach graphs, not eager ops. On a backend other than native TensorFlow (`auto` falls back to wasm or cpu when it is not built) the gap is the backend's.";
    case 'soakRssSlopeMbPerH':
      return 'Resident memory grows faster than its noise: see the samples in the soak section.';
    default:
      return '';
  }
}

/** The three longest phases (by median), the total excluded. */
function largest(phases: Phase[]): string {
  return phases
    .filter((p) => !p.name.startsWith('total') && p.ms.n > 0)
    .sort((a, b) => b.ms.median - a.ms.median)
    .slice(0, 3)
    .map((p) => `${p.name} ${p.ms.median.toFixed(0)} ms`)
    .join('; ');
}
