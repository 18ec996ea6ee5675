/** A task module (DFIT_TASK_MODULES / `taskModules`) that registers the streamed MNIST tasks. */
import { registerStreamedMnistTasks } from '../../src/training/tasks/mnist-stream';

registerStreamedMnistTasks();
