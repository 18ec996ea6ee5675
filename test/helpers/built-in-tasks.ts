/** The built-in tasks `listTasks()` names, in its order: one list for the tests that check it. */
export const BUILT_IN_TASKS: readonly string[] = [
  'digits-resnet',
  'digits-resnet-stream',
  'mnist-cnn',
  'mnist-cnn-stream',
  'mnist-mlp',
  'mnist-mlp-stream',
  'synthetic',
  'tabular-mlp-stream',
];
