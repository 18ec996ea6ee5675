/** Why a training step cannot run as a graph; the session falls back to eager and says so. */
export class GraphUnsupportedError extends Error {
  constructor(
    readonly op: string,
    readonly reason: string,
  ) {
    super(`graph mode cannot trace this training step: op ${op} ${reason}; training runs eagerly instead`);
    this.name = 'GraphUnsupportedError';
  }
}
