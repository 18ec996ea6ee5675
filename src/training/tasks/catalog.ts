/**
 * The task catalog: what validates a spec's task, hparams and monitored metric — the built-in
 * tasks' descriptors and any task registered in this process — with no tfjs loaded. The client and
 * the CLI validate through this; the trainer imports the full tasks (index.ts).
 */
import { BUILTIN_DESCRIPTORS } from './descriptors';
import { registerTaskDescriptor } from './registry';
import { tabularMlpStreamDescriptor } from './tabular-descriptor';

for (const descriptor of BUILTIN_DESCRIPTORS) registerTaskDescriptor(descriptor);
registerTaskDescriptor(tabularMlpStreamDescriptor);

export {
  getTaskDescriptor,
  listTasks,
  registerTaskDescriptor,
  taskMetricNames,
  validateHparams,
} from './registry';
export type { TaskDescriptor } from './types';
