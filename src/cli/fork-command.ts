/**
 * `durable-fit fork <id | ckpt-url>`: a new run from a checkpoint, linked to its parent
 * (`spec.forkedFrom`, memo `forkedFrom` and `overrides`). With the parent's task, hparams, seed and
 * batch size it is an exact continuation (`resumeFrom`); with overrides it starts a new run from the
 * checkpoint's weights (see README "Forks").
 */
import { Command } from 'commander';
import type { Client } from '@temporalio/client';
import { defaultWorkflowId, startTraining, validateSpecInput } from '../client';
import { parseCheckpointUrl } from '../checkpoint/keys';
import { createStore } from '../checkpoint/create-store';
import type { DurableFitOptions } from '../config/options';
import type { CheckpointMeta } from '../state';
import type { TrainingSpecInput } from '../spec';
import { canonicalJson } from '../training/fingerprints';
import type { ConnectionFlags } from './common';
import { fail, withConnectionFlags } from './common';
import { printJson, withClient } from './render/connect';
import { readRun, uiLink } from './render/run-state';
import type { SpecFlags } from './spec-flags';
import { assertDatasetApplies, specFromFlags } from './spec-flags';
import { withForkFlags } from './render/fork-flags';

interface ForkFlags extends ConnectionFlags, SpecFlags {
  workflowId?: string;
  json?: boolean;
}

export function forkCommand(): Command {
  return withForkFlags(withConnectionFlags(new Command('fork')))
    .description('start a new run from a checkpoint of another run, with recorded overrides')
    .argument('<source>', 'a workflow id (its latest checkpoint) or an s3://bucket/key.ckpt URL')
    .addHelpText(
      'after',
      '\nExamples:\n  $ durable-fit fork mnist-1 --hparam learningRate=0.0005 --epochs 3\n' +
        '  $ durable-fit fork s3://durable-fit/mnist-1/epoch=0002-step=0000500.ckpt --epochs 2\n\n' +
        'Same hparams, seed and batch size: an exact continuation (resumeFrom) for --epochs more epochs.\n' +
        'Other hparams: a new run whose epoch 0 starts from the checkpoint weights (spec.forkedFrom).',
    )
    .action(async (source: string, flags: ForkFlags) => {
      await withClient(flags, async (client, options) => {
        const parent = await resolveSource(client, source);
        const meta = await checkpointMeta(options, parent.ckpt);
        const input = forkSpec(meta, parent, flags);
        const workflowId = flags.workflowId ?? `fork-${defaultWorkflowId(input)}`;
        try {
          assertDatasetApplies(validateSpecInput(input, workflowId));
        } catch (err) {
          fail(err, 2);
        }
        const overrides = {
          ...flags.hparam,
          ...(flags.epochs ? { epochs: flags.epochs } : {}),
          ...(flags.dataset ? { dataset: flags.dataset } : {}),
        };
        const handle = await startTraining(client, input, {
          taskQueue: options.taskQueue,
          workflowId,
          memo: { forkedFrom: parent, overrides },
          summary: `fork of ${parent.workflowId ?? parent.ckpt} (${JSON.stringify(overrides)})`,
        });
        const ui = uiLink(options.uiUrl, options.namespace, workflowId);
        const mode = input.resumeFrom ? 'continuation' : 'weights-only fork';
        if (flags.json)
          printJson({ workflowId, runId: handle.firstExecutionRunId, mode, forkedFrom: parent, ui });
        else process.stdout.write(`forked ${parent.ckpt} → ${workflowId} (${mode})\n  UI: ${ui}\n`);
      });
    });
}

interface ForkSource {
  workflowId?: string;
  ckpt: string;
}

/** A checkpoint URL as is, or a run's newest checkpoint (final one when it completed). */
async function resolveSource(client: Client, source: string): Promise<ForkSource> {
  if (source.startsWith('s3://')) {
    parseCheckpointUrl(source);
    return { ckpt: source };
  }
  const run = await readRun(client, source);
  const ckpt = run.result?.finalCheckpoint.url ?? run.progress?.lastCheckpoint?.url;
  if (!ckpt)
    throw new Error(`run ${source} has no checkpoint yet (status ${run.execution}); try again later`);
  return { workflowId: source, ckpt };
}

async function checkpointMeta(options: DurableFitOptions, url: string): Promise<CheckpointMeta> {
  return (await createStore(options, parseCheckpointUrl(url).bucket).load(url)).meta;
}

/** The child's spec: the parent's (from the checkpoint's metadata), overrides applied. */
export function forkSpec(meta: CheckpointMeta, parent: ForkSource, flags: SpecFlags): TrainingSpecInput {
  const recorded = (meta.spec.training ?? meta.spec) as Partial<TrainingSpecInput>;
  const base: Partial<TrainingSpecInput> = {
    task: meta.task,
    seed: recorded.seed,
    batchSize: recorded.batchSize,
    hparams: meta.hparams,
    checkpoint: recorded.checkpoint,
    recovery: recorded.recovery,
    ...(recorded.dataset ? { dataset: recorded.dataset } : {}),
    ...(recorded.validationDataset ? { validationDataset: recorded.validationDataset } : {}),
  };
  const child = specFromFlags({ ...flags, epochs: undefined }, base) as TrainingSpecInput;
  const epochs = flags.epochs ?? recorded.epochs ?? 1;
  const same =
    canonicalJson(child.hparams) === canonicalJson(meta.hparams) &&
    child.seed === recorded.seed &&
    child.batchSize === recorded.batchSize &&
    sameDataset(flags.dataset, meta.dataset);
  const forkedFrom = { ...(parent.workflowId ? { workflowId: parent.workflowId } : {}), ckpt: parent.ckpt };
  return same
    ? { ...child, epochs: meta.cursor.epoch + epochs, resumeFrom: parent.ckpt, forkedFrom }
    : { ...child, epochs, forkedFrom };
}

/**
 * Whether `--dataset` keeps the checkpoint's data: not given, or the very version it was trained on
 * (`name@version`, the version in full or 8 or more of its first hex digits). Anything else changes
 * the data, so the fork starts a new run from the weights: a resume on another version is refused
 * (docs/datasets.md).
 */
function sameDataset(flag: string | undefined, trained: CheckpointMeta['dataset']): boolean {
  if (flag === undefined) return true;
  const [name, version] = flag.split('@');
  return (
    trained !== undefined &&
    name === trained.name &&
    version !== undefined &&
    version.length >= 8 &&
    trained.version.startsWith(version)
  );
}
