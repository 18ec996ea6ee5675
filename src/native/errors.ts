/** Errors of the native TensorFlow build; each message says what happened and what to do. */
import path from 'node:path';
import type { FailureKind } from '../failure-kind';

/** A program the build needs (pip, g++, make, python) is not installed. */
export class NativeToolMissingError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'NativeToolMissingError';
  constructor(
    readonly tool: string,
    readonly howToInstall: string,
  ) {
    super(
      `Building the native TensorFlow backend needs ${tool}, which was not found. ${howToInstall} ` +
        'Then run `durable-fit backend build` again. Without it, training runs on wasm or cpu.',
    );
  }
}

/** A downloaded wheel is not the pinned one. */
export class WheelHashMismatchError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'WheelHashMismatchError';
  constructor(
    readonly file: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `Wheel ${file} has SHA-256 ${actual}, but the pin in src/native/pins.ts is ${expected}. ` +
        'The package index served a different file: check your pip index (PIP_INDEX_URL) or update the pin ' +
        'after verifying the new wheel.',
    );
  }
}

/**
 * tfjs-node's JavaScript is not in node_modules (npm dropped the optional package). The advice
 * depends on the project (`installAdvice` in project.ts): this repository or a user's own.
 */
export class TfjsNodeMissingError extends Error {
  static readonly failureKind: FailureKind = 'permanent';
  override readonly name = 'TfjsNodeMissingError';
  constructor(
    readonly pkg: string,
    readonly projectDir: string,
    advice: string,
  ) {
    super(`${pkg} is not installed in ${path.join(projectDir, 'node_modules')}. ${advice}`);
  }
}

/** A build step (download, extract, compile) failed. */
export class NativeBuildError extends Error {
  static readonly failureKind: FailureKind = 'transient';
  override readonly name = 'NativeBuildError';
  constructor(
    readonly step: string,
    readonly logFile: string,
    detail: string,
  ) {
    super(
      `Native TensorFlow build failed at "${step}" (${detail}). The log is ${logFile}: its last lines ` +
        'name the cause. Fix it and run `durable-fit backend build` again.',
    );
  }
}
