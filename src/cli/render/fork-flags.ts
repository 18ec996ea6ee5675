/** The subset of `start`'s spec flags that make sense for `fork` (same parsers, same help). */
import { Command } from 'commander';
import { withSpecFlags } from '../spec-flags';

const FORK_FLAGS = [
  '--hparam',
  '--epochs',
  '--seed',
  '--batch-size',
  '--run-name',
  '--heartbeat-timeout',
  '--checkpoint-every-batches',
  '--checkpoint-every-seconds',
  '--keep-last',
  '--dataset',
];

export function withForkFlags(command: Command): Command {
  for (const option of withSpecFlags(new Command()).options) {
    if (!option.long || !FORK_FLAGS.includes(option.long)) continue;
    if (option.long === '--epochs')
      option.description = "epochs the new run trains (default: the parent's epochs)";
    if (option.long === '--hparam')
      option.description = 'override a hyperparameter (repeatable), e.g. learningRate=0.0005';
    if (option.long === '--dataset')
      option.description =
        "train on this dataset (name or name@version) from the checkpoint's weights: another version " +
        "than the checkpoint's makes a weights-only fork";
    command.addOption(option);
  }
  return command
    .option('--workflow-id <id>', 'workflow id of the new run (default: fork-<task>-<time>)')
    .option('--json', 'print JSON');
}
