import { AsyncLocalStorage, AsyncResource, executionAsyncResource } from 'node:async_hooks';

/**
 * AsyncLocalStorage context for tasks that start later, from another task's completion.
 *
 * A task that waits in a queue must still run with its caller's stores. Capturing them costs an
 * `AsyncResource` per task (about half a microsecond: more than the rest of a limiter's work), so
 * we capture only when there is something to capture:
 *
 * - Node 20's AsyncLocalStorage keeps each store as an own symbol-keyed property of
 *   `executionAsyncResource()` (`resource[kResourceStore] = store`), copied to every new resource
 *   by an init hook. So when the current resource has no symbol-keyed property holding a value,
 *   no AsyncLocalStorage has a store here, and nothing needs capturing. The check is conservative:
 *   any symbol-keyed value (async ids of timers and tracked promises too) counts as a context.
 * - A task queued without a context must also run without one, not inside the context of the task
 *   whose completion starts it: it runs in `emptyContext`, a resource created where no store was.
 * - Whether this runtime keeps stores that way is checked once (`storesLiveOnResources`); where
 *   it does not (AsyncContextFrame, the default from Node 24), every queued task is captured.
 *
 * `test/tasks/context.test.ts` checks that stores survive queueing in every combination.
 */

/** A captured context to run a queued task in; `undefined` means "no store was visible". */
export type CapturedContext = AsyncResource | undefined;

let storesOnResource: boolean | undefined;
let emptyContext: AsyncResource | undefined;

/**
 * Whether this runtime's AsyncLocalStorage keeps stores on execution resources: its instances then
 * carry their property key as `kResourceStore` (Node 20 to 23; Node 22 and 24 with
 * AsyncContextFrame do not). Checked on the shape, not by running a store: `run()` would enable the
 * promise hooks for the rest of the current tick and slow down every promise made meanwhile.
 */
function storesLiveOnResources(): boolean {
  const storage = new AsyncLocalStorage<unknown>() as unknown as { kResourceStore?: unknown };
  return typeof storage.kResourceStore === 'symbol';
}

/** Whether any AsyncLocalStorage may have a store in the current execution context. */
function contextVisible(): boolean {
  const resource = executionAsyncResource() as Record<symbol, unknown>;
  const keys = Object.getOwnPropertySymbols(resource);
  for (let i = 0; i < keys.length; i++) if (resource[keys[i]!] !== undefined) return true;
  return false;
}

/** Captures the caller's context, or returns `undefined` when it provably holds no store. */
export function captureContext(): CapturedContext {
  storesOnResource ??= storesLiveOnResources();
  if (storesOnResource && !contextVisible()) {
    // Created here, where no store is visible, it carries none.
    emptyContext ??= new AsyncResource('sluice.tasks');
    return undefined;
  }
  return new AsyncResource('sluice.tasks');
}

/** Calls `fn(argument)` in `context` (see `captureContext`). */
export function callInContext<A, R>(context: CapturedContext, fn: (argument: A) => R, argument: A): R {
  if (context !== undefined) return context.runInAsyncScope(fn, undefined, argument);
  // Queued without a context: run without one, whatever context started us.
  if (emptyContext === undefined || !contextVisible()) return fn(argument);
  return emptyContext.runInAsyncScope(fn, undefined, argument);
}
