import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';

/**
 * AsyncLocalStorage context for tasks that start later, from another task's completion.
 *
 * A task that waits in a queue must still run with its caller's stores. Capturing them costs an
 * `AsyncResource` per task (about half a microsecond: more than all the rest of a limiter's work),
 * so we capture only when a store can exist at all:
 *
 * - Node 20's AsyncLocalStorage works through an async_hooks init hook, enabled as soon as any
 *   storage is used (`run`/`enterWith`), which also turns on V8's promise hooks: from then on every
 *   new promise gets own symbol-keyed properties (its async ids, and each storage's store). So a
 *   freshly made promise without any own symbol property proves that no storage is enabled, hence
 *   that no store is visible here, and nothing needs capturing. The check is conservative: any
 *   init hook (an APM's, say) makes us capture.
 * - A task queued without a context must also run without one, not in the context of the task
 *   whose completion happens to start it (a storage may have been enabled since): it runs in
 *   `emptyContext`, a resource made while no hook was on, which therefore carries no store.
 * - Whether this runtime's storages work that way is checked once, on their shape
 *   (`storesLiveOnResources`); where they do not (AsyncContextFrame, the default from Node 24),
 *   every queued task is captured.
 *
 * `test/tasks/context.test.ts` checks that stores survive queueing in every combination.
 */

/** A captured context to run a queued task in; `undefined` means "no store can exist". */
export type CapturedContext = AsyncResource | undefined;

let storesOnResources: boolean | undefined;
let emptyContext: AsyncResource | undefined;

/**
 * Whether this runtime's AsyncLocalStorage keeps stores on async resources through an init hook:
 * its instances then carry their property key as `kResourceStore` (Node 20 to 23 by default). Checked
 * on the shape rather than by running a store, which would turn the promise hooks on for the rest
 * of the current tick and slow down every promise made meanwhile.
 */
function storesLiveOnResources(): boolean {
  const storage = new AsyncLocalStorage<unknown>() as unknown as { kResourceStore?: unknown };
  return typeof storage.kResourceStore === 'symbol';
}

/**
 * Captures the caller's context, or returns `undefined` when no store can exist. `freshPromise`,
 * if given, must be a promise the caller has just made (saves making one here).
 */
export function captureContext(freshPromise: object = Promise.resolve()): CapturedContext {
  storesOnResources ??= storesLiveOnResources();
  if (storesOnResources && Object.getOwnPropertySymbols(freshPromise).length === 0) {
    // No init hook is on, so this resource gets no store, now or later.
    emptyContext ??= new AsyncResource('sluice.tasks');
    return undefined;
  }
  return new AsyncResource('sluice.tasks');
}

/** Calls `fn(argument)` in `context` (see `captureContext`). */
export function callInContext<A, R>(context: CapturedContext, fn: (argument: A) => R, argument: A): R {
  return (context ?? emptyContext!).runInAsyncScope(fn, undefined, argument);
}
