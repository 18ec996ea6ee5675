import type { FailureKind } from '../../failure-kind';

/**
 * Why a training step cannot run as a graph; the session falls back to eager and says so.
 * `subject` names what is at fault: `op <TF op name>`, or a variable or a JavaScript tensor.
 */
export class GraphUnsupportedError extends Error {
  /** Never crosses the activity boundary (the driver falls back); were it to, a retry changes nothing. */
  static readonly failureKind: FailureKind = 'permanent';

  constructor(
    readonly subject: string,
    readonly reason: string,
  ) {
    super(`graph mode cannot trace this training step: ${subject} ${reason}; training runs eagerly instead`);
    this.name = 'GraphUnsupportedError';
  }
}
