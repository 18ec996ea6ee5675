/**
 * Failure types shared by the activities (which raise them) and the workflow (which classifies them).
 * Plain constants, so both sides can import this file.
 */

/** The worker is shutting down (SIGTERM / preemption); details carry the checkpoint it saved. */
export const PREEMPTED = 'Preempted';
/** The run was paused; details carry the checkpoint saved at the batch boundary. */
export const PAUSED = 'Paused';

/** A checkpoint the workflow chose could not be used (missing or failed verification): fall back. */
export const CHECKPOINT_UNUSABLE_TYPES: readonly string[] = [
  'CheckpointCorruptError',
  'CheckpointNotFoundError',
];

/** Errors that no retry can fix: the run fails at once with the error's message. */
export const NON_RETRYABLE_ERROR_TYPES: readonly string[] = [
  'InvalidSpecError',
  'UnknownTaskError',
  'InvalidHparamsError',
  'IncompatibleStateError',
  'IncompatibleResumeError',
  'TaskDefinitionError',
  'NoValidCheckpointError',
  'IncompatibleTopologyError',
  'BackendMismatchError',
  'BackendUnavailableError',
  'UnsupportedFormatVersionError',
  'NotACkptError',
  'CheckpointIsPrefixError',
  'InvalidCheckpointUrlError',
  'InvalidRunNameError',
  'S3CredentialsError',
];
