/**
 * What the data-parallel workflow tests stub around the shards they drive: checkpoint references
 * under `s3://stub/`, and the run's prepareRun, initParallel (two rounds) and aggregateRound.
 */
import type {
  AggregateResult,
  AggregateRoundInput,
  CheckpointRef,
  PreparedRun,
  PrepareRunInput,
} from '../../src/contract';
import { parseSpec } from '../../src/spec';

/** `s3://stub/<name>.ckpt` at a cursor (its hash and size do not matter to the workflow). */
export function stubCkpt(
  name: string,
  cursor: Pick<CheckpointRef, 'epoch' | 'batch' | 'step'>,
): CheckpointRef {
  return { url: `s3://stub/${name}.ckpt`, sha256: '0'.repeat(64), bytes: 1, ...cursor };
}

export interface ParallelRunStubs {
  /** The global checkpoint each round starts from (round `rounds` is the final one). */
  globalOf: (round: number) => CheckpointRef;
  /** initParallel's `shardBatches`, where the test needs the steps a round counts. */
  shardBatches?: number;
  /** Where each aggregateRound input is recorded, in call order. */
  merges?: AggregateRoundInput[];
}

/**
 * prepareRun (the spec parsed), initParallel (two rounds from `globalOf(0)`) and aggregateRound
 * (recorded, answered with the next round's global checkpoint) of a data-parallel run.
 */
export function parallelRunStubs({ globalOf, shardBatches, merges }: ParallelRunStubs) {
  return {
    prepareRun: async (input: PrepareRunInput): Promise<PreparedRun> => ({
      spec: parseSpec(input.spec, input.workflowId),
    }),
    initParallel: async (): Promise<AggregateResult> => ({
      round: 0,
      ckpt: globalOf(0),
      weightsSha256: 'g0',
      metrics: {},
      bytesMoved: 0,
      backend: 'stub',
      rounds: 2,
      ...(shardBatches !== undefined ? { shardBatches } : {}),
    }),
    aggregateRound: async (input: AggregateRoundInput): Promise<AggregateResult> => {
      merges?.push(input);
      return {
        round: input.round,
        ckpt: globalOf(input.round + 1),
        weightsSha256: `g${input.round + 1}`,
        metrics: {},
        bytesMoved: 3,
        backend: 'stub',
      };
    },
  };
}
