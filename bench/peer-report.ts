/** The report's peer section: durable-fit against Keras 3 on the same TensorFlow (issue 20). */
import type { PeerResult, PeerRow } from './peer';
import { formatSummary as f } from './stats';
import { judge, targetText } from './targets';

export function peerSection(p: PeerResult): string[] {
  const backends = [...new Set(p.rows.flatMap((r) => (r.backend ? [r.backend] : [])))];
  const versions = Object.entries(p.versions)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const env = Object.entries(p.env)
    .map(([k, v]) => `\`${k}=${v}\``)
    .join(', ');
  return [
    '## durable-fit vs Keras on the same TensorFlow',
    '',
    `Keras 3 \`model.fit\` (${versions || 'versions unknown'}; \`jit_compile\` ${p.kerasJit ? 'on' : 'off, as Keras picks on CPU'}) in the project's venv (\`scripts/python-venv.sh keras\`) against a \`durable-fit worker\` on its default backend (\`auto\`), which trained on **${backends.join(', ') || 'no backend (every run failed)'}**. Same architecture (bench/peer/keras_peer.py mirrors the task), the same arrays (the task's dataset exported as float32), batch ${p.batchSize}, Adam 1e-3, softmax cross-entropy from logits, a validation pass per epoch (batches of 512 on both sides), and ${env} on both sides (Keras also sets its thread counts through \`tf.config.threading\`). durable-fit checkpoints every ${p.saveEveryBatches} batches and at each epoch end, to MinIO; "Keras + backup" adds \`keras.callbacks.BackupAndRestore(save_freq=${p.saveEveryBatches})\` (local disk), the durable Keras a user would otherwise run. ${p.epochs} epochs a run, the first a warm-up on both sides (tracing, trainer start); steps/s = the other epochs' steps ÷ their time. Keras: its epoch wall time (training and validation). durable-fit, judged: the time from the first epoch's completion to the last's in the workflow history (training, validation, saves, workflow tasks and activity scheduling: what a user waits); also shown: the epoch activities' \`durationMs\`, which reads faster because the warm trainer trains the next epoch ahead while its activity is being scheduled, so part of an epoch runs before its activity starts. Runs interleave Keras, Keras + backup, durable-fit; each triple gives one ratio. The machine's cores are shared with other work, so single runs are noisy: read the medians with their ranges.`,
    '',
    '| model | batches/epoch | durable-fit backend | Keras steps/s | Keras + backup steps/s | durable-fit steps/s, epoch completions | durable-fit steps/s by \`durationMs\` | durable-fit ÷ Keras steps/s (higher is better) | target | durable-fit ÷ Keras + backup steps/s (higher is better) | target |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...p.rows.map(row),
    '',
  ];
}

function row(r: PeerRow): string {
  const lead = `| ${r.label} | ${r.stepsPerEpoch} | ${r.backend ?? '—'}`;
  if (r.skipped || !r.keras || !r.kerasBackup || !r.durableFit || !r.ratio || !r.ratioVsBackup)
    return `${lead} | — | — | — | — | ${(r.skipped ?? 'not measured').replace(/[|\n]+/g, ' ')} | — | — | — |`;
  const activity = r.durableFitActivity ? f(r.durableFitActivity, 1) : '—';
  const verdict = (id: 'peerRatio' | 'peerVsBackupRatio', x: number) =>
    `${targetText(id)} (${judge(id, x).text})`;
  return `${lead} | ${f(r.keras, 1)} | ${f(r.kerasBackup, 1)} | ${f(r.durableFit, 1)} | ${activity} | ${f(r.ratio, 3)} (n = ${r.ratio.n}) | ${verdict('peerRatio', r.ratio.median)} | ${f(r.ratioVsBackup, 3)} | ${verdict('peerVsBackupRatio', r.ratioVsBackup.median)} |`;
}
