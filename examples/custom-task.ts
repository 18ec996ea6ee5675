/**
 * Registering your own task — the plugin surface of durable-fit (like a LightningModule).
 *
 *   npx tsx examples/custom-task.ts
 *
 * Trains a tiny regression model, interrupts it mid-epoch, restores it from `.ckpt` bytes in a
 * fresh session and shows that the resumed run ends with the same weights hash.
 */
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint/format';
import { captureState, finalizeState } from '../src/training/capture';
import { runSession } from '../src/training/run-loop';
import './sine-task'; // registers the `sine-regression` task
import { Trainer } from '../src/training/trainer';

async function main(): Promise<void> {
  const trainer = await Trainer.create({ backend: 'cpu' });
  const config = { task: 'sine-regression', hparams: { units: 12 }, seed: 7, batchSize: 16, epochs: 4 };

  const straight = trainer.open(config);
  const { state: full } = await runSession(straight);
  straight.dispose();

  const interrupted = trainer.open(config);
  await runSession(interrupted, { stopAtStep: 13 }); // mid-epoch 1
  const bytes = encodeCheckpoint(captureState(interrupted));
  interrupted.dispose();

  const resumed = trainer.open(config, decodeCheckpoint(bytes));
  await runSession(resumed);
  const end = captureState(resumed);
  resumed.dispose();

  const fullHash = finalizeState(full).meta.weightsSha256; // runSession returns a phase-1 capture
  console.log('epoch metrics:', end.meta.metrics.at(-1));
  console.log('uninterrupted:', fullHash);
  console.log(
    'resumed:      ',
    end.meta.weightsSha256,
    end.meta.weightsSha256 === fullHash ? '(identical)' : '(DIFFERENT)',
  );
}

void main();
