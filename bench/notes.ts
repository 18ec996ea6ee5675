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
    case 'checkpointLoadVsRaw':
      return 'Every byte is SHA-256-hashed (and encoded or decoded), which raw `putObject`/`getObject` do not do; compare the MB/s columns of the I/O table.';
    case 'engineVsBare':
      return 'The engine adds an owned data order, per-step seeds, a cursor and event-loop yields per step.';
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
