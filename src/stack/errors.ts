/** Errors of the local stack manager; each message says what happened and what to do. */
import type { FailureKind } from '../failure-kind';

export class GoMissingError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'GoMissingError';
  constructor(readonly tool: string) {
    super(
      `Building ${tool} needs the Go toolchain, and \`go\` was not found on PATH. ` +
        'Install Go 1.25 or newer (https://go.dev/dl/) and run the command again, ' +
        'or start the stack with Docker instead: `docker compose up -d`.',
    );
  }
}

export class ToolBuildError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'ToolBuildError';
  constructor(
    readonly tool: string,
    readonly logFile: string,
    readonly exitCode: number | null,
  ) {
    super(
      `Building ${tool} with \`go install\` failed (exit code ${exitCode}). The build log is ${logFile}. ` +
        'Check that the Go module proxy is reachable (GOPROXY) and that Go is 1.25 or newer, then retry.',
    );
  }
}

export class PortInUseError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'PortInUseError';
  constructor(
    readonly port: number,
    readonly what: string,
    readonly howToChange: string,
  ) {
    super(
      `Port ${port} (${what}) is already in use by another program. ` +
        `Stop that program, or pick another port with ${howToChange}.`,
    );
  }
}

export class ServerUnhealthyError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'ServerUnhealthyError';
  constructor(
    readonly server: string,
    readonly logFile: string,
    readonly detail: string,
  ) {
    super(
      `${server} did not become healthy (${detail}). Its log is ${logFile}: the last lines usually ` +
        'name the cause (a port taken, a locked or corrupt data folder). Fix it and run `durable-fit stack up` again.',
    );
  }
}
