/**
 * The task registry: built-in tasks plus whatever users register. It holds each task's descriptor
 * (what validates a spec) and, where the process loaded it, the full task (what the trainer
 * builds). Only types of tfjs are named here, so a client can validate through it (catalog.ts).
 */
import type { z } from 'zod';
import { InvalidHparamsError, TaskDefinitionError, UnknownTaskError } from '../errors';
import type { TaskBuilder, TaskDefinition, TaskDescriptor } from './types';

const descriptors = new Map<string, TaskDescriptor>();
const definitions = new Map<string, TaskDefinition>();
/** The descriptor each `defineTask` task was built from. */
const origins = new WeakMap<TaskDefinition, TaskDescriptor>();

/**
 * A full task from a descriptor and its builder. `builder.metrics` must name exactly the
 * descriptor's `metricNames`, so what a client validated is what the trainer reports.
 */
export function defineTask<S extends z.ZodObject>(
  descriptor: TaskDescriptor<S>,
  builder: TaskBuilder<S>,
): TaskDefinition<S> {
  const built = Object.keys(builder.metrics ?? {});
  const declared = [...descriptor.metricNames];
  if (built.length !== declared.length || built.some((name) => !declared.includes(name))) {
    throw new TaskDefinitionError(
      descriptor.name,
      `its builder's metrics (${built.join(', ') || 'none'}) differ from its descriptor's metricNames (${declared.join(', ') || 'none'})`,
    );
  }
  const task: TaskDefinition<S> = {
    name: descriptor.name,
    ...(descriptor.description !== undefined ? { description: descriptor.description } : {}),
    hparams: descriptor.hparams,
    ...(descriptor.unsupportedBackends ? { unsupportedBackends: descriptor.unsupportedBackends } : {}),
    ...builder,
  };
  origins.set(task as unknown as TaskDefinition, descriptor as unknown as TaskDescriptor);
  return task;
}

/** A full task's descriptor: the one it was defined from, or one read off its fields. */
export function describeTask<S extends z.ZodObject>(task: TaskDefinition<S>): TaskDescriptor<S> {
  const origin = origins.get(task as unknown as TaskDefinition);
  if (origin) return origin as unknown as TaskDescriptor<S>;
  return {
    name: task.name,
    ...(task.description !== undefined ? { description: task.description } : {}),
    hparams: task.hparams,
    metricNames: Object.keys(task.metrics ?? {}),
    ...(task.unsupportedBackends ? { unsupportedBackends: task.unsupportedBackends } : {}),
    streams: task.data !== undefined,
  };
}

/**
 * Adds a task. Registering a name twice is an error unless it is the very same definition, or the
 * task `defineTask` built from the descriptor already registered under that name.
 */
export function registerTask<S extends z.ZodObject>(definition: TaskDefinition<S>): void {
  const task = definition as unknown as TaskDefinition;
  const existing = definitions.get(task.name);
  if (existing === task) return;
  const descriptor = descriptors.get(task.name);
  if (existing || (descriptor && origins.get(task) !== descriptor)) {
    throw new Error(`task "${task.name}" is already registered`);
  }
  definitions.set(task.name, task);
  descriptors.set(task.name, describeTask(task));
}

/**
 * Adds a task's descriptor alone: enough to validate specs for it (a client, the CLI) without
 * loading its builder or tfjs. Workers register the full task (`registerTask(defineTask(…))`).
 */
export function registerTaskDescriptor<S extends z.ZodObject>(descriptor: TaskDescriptor<S>): void {
  const entry = descriptor as unknown as TaskDescriptor;
  const existing = descriptors.get(entry.name);
  if (existing === entry) return;
  if (existing) throw new Error(`task "${entry.name}" is already registered`);
  descriptors.set(entry.name, entry);
}

/** The full task of that name (the trainer's), or `UnknownTaskError` listing the registered ones. */
export function getTask(name: string): TaskDefinition {
  const task = definitions.get(name);
  if (task) return task;
  if (descriptors.has(name)) {
    throw new TaskDefinitionError(
      name,
      'only its descriptor is registered in this process; load the module that registers the task (registerTask) where it trains',
    );
  }
  throw new UnknownTaskError(name, listTasks());
}

/** The descriptor of that task (enough to validate a spec), or `UnknownTaskError`. */
export function getTaskDescriptor(name: string): TaskDescriptor {
  const descriptor = descriptors.get(name);
  if (!descriptor) throw new UnknownTaskError(name, listTasks());
  return descriptor;
}

/** Names of all registered tasks, sorted. */
export function listTasks(): string[] {
  return [...descriptors.keys()].sort();
}

/** What `validateHparams` needs of a task: a descriptor or a full task. */
type HparamsOwner = Pick<TaskDescriptor, 'name' | 'hparams'>;

/**
 * Raw hparams → the task's full hparams with defaults applied. Unknown keys and wrong types are
 * rejected with every issue named, e.g. `hidden: expected number, received string`.
 */
export function validateHparams(task: HparamsOwner, raw: unknown): Record<string, unknown> {
  const result = task.hparams.strict().safeParse(raw ?? {});
  if (result.success) return result.data as Record<string, unknown>;
  throw new InvalidHparamsError(task.name, result.error.issues.map(describeIssue));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = issue.path.length > 0 ? issue.path.join('.') : '(hparams)';
  if (issue.code === 'unrecognized_keys') {
    return `unknown hparam${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`;
  }
  return `${where}: ${issue.message}`;
}

/**
 * The metric names a task reports per epoch — what `checkpoint.topK.monitor` may name: the
 * training `loss`, the validation `valLoss`, and `val<Name>` for each of the task's metrics.
 */
export function taskMetricNames(task: TaskDescriptor | TaskDefinition): string[] {
  const metrics = 'metricNames' in task ? task.metricNames : Object.keys(task.metrics ?? {});
  const names = metrics.map((n) => `val${n[0]?.toUpperCase() ?? ''}${n.slice(1)}`);
  return ['loss', 'valLoss', ...names];
}
