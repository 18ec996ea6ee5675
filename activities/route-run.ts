/**
 * Routing at the start of a run: `prepareRun`'s result names the backend queue every epoch of the
 * run goes to (src/training/routing.ts). Decided once, in an activity result recorded in history,
 * before any training, so a crash in the first epoch cannot lose it.
 */
import { Context } from '@temporalio/activity';
import { chooseRoute } from '../src/training/routing';
import type { PreparedRun } from '../src/contract';

/** Adds `route` when this worker routes (`workerRoute` set); drops the checkpoint backend it used. */
export function withRoute(prepared: PreparedRun, workerRoute: string | undefined): PreparedRun {
  const { resumeBackend, ...result } = prepared;
  if (!workerRoute) return result;
  const route = chooseRoute({
    taskQueue: Context.current().info.taskQueue,
    workerRoute,
    ...(resumeBackend ? { resumeBackend } : {}),
    allowBackendChange: prepared.spec.recovery.allowBackendChange,
  });
  return { ...result, route };
}
