/** The task registry: built-in tasks plus whatever users register before starting a trainer. */
import type { z } from 'zod';
import { InvalidHparamsError, UnknownTaskError } from '../errors';
import type { TaskDefinition } from './types';

const tasks = new Map<string, TaskDefinition>();

/** Adds a task. Registering a name twice is an error unless it is the very same definition. */
export function registerTask<S extends z.ZodObject>(definition: TaskDefinition<S>): void {
  const existing = tasks.get(definition.name);
  if (existing && existing !== (definition as unknown)) {
    throw new Error(`task "${definition.name}" is already registered`);
  }
  tasks.set(definition.name, definition as unknown as TaskDefinition);
}

/** The task of that name, or `UnknownTaskError` listing the registered ones. */
export function getTask(name: string): TaskDefinition {
  const task = tasks.get(name);
  if (!task) throw new UnknownTaskError(name, listTasks());
  return task;
}

/** Names of all registered tasks, sorted. */
export function listTasks(): string[] {
  return [...tasks.keys()].sort();
}

/**
 * Raw hparams → the task's full hparams with defaults applied. Unknown keys and wrong types are
 * rejected with every issue named, e.g. `hidden: expected number, received string`.
 */
export function validateHparams(task: TaskDefinition, raw: unknown): Record<string, unknown> {
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
 * training `loss`, the validation `valLoss`, and `val<Name>` for each of the task's `metrics`.
 */
export function taskMetricNames(task: TaskDefinition): string[] {
  const names = Object.keys(task.metrics ?? {}).map((n) => `val${n[0]?.toUpperCase() ?? ''}${n.slice(1)}`);
  return ['loss', 'valLoss', ...names];
}
