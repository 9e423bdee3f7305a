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
 *   new promise gets Node's async id as an own property, keyed by its internal `async_id_symbol`.
 *   So a freshly made promise without that property proves that no init hook is on, hence that no
 *   storage is enabled, no store is visible here, and nothing needs capturing. The check is
 *   conservative: any init hook (an APM's, say) makes us capture.
 * - The key is read once from an `AsyncResource`, which carries it whether or not a hook is on;
 *   testing it is one property load. (Listing a promise's own symbols instead costs an array and
 *   about 30 ns per task, a twentieth of a limiter's whole cost per queued task; measured here.)
 * - A task queued without a context must also run without one, not in the context of the task
 *   whose completion happens to start it (a storage may have been enabled since): it runs in
 *   `emptyContext`, a resource made while no hook was on, which therefore carries no store. It is
 *   shared, so a store that such a task enters (`enterWith`) is cleared when the task returns
 *   (`leaveContext`); otherwise the next task queued without a store would see it.
 * - Whether this runtime's storages work that way is checked once, on their shape
 *   (`storesLiveOnResources`) and on the key; where they do not (AsyncContextFrame, the default
 *   from Node 24), or the key is not found, every queued task is captured.
 *
 * `test/tasks/context*.test.ts` checks that stores survive queueing in every combination.
 */

/** A captured context to run a queued task in; `undefined` means "no store can exist". */
export type CapturedContext = AsyncResource | undefined;

type Keyed = Record<symbol, unknown>;

let probed = false;
let storesOnResources = false;
/** Node's `async_id_symbol` (set by `probe` when `storesOnResources`). */
let asyncIdKey: symbol | undefined;
let emptyContext: AsyncResource | undefined;
/** The own symbol keys `emptyContext` had when made (its async ids): never cleared. */
let emptyContextKeys: symbol[] = [];

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

function probe(): void {
  probed = true;
  if (!storesLiveOnResources()) return;
  const keys = Object.getOwnPropertySymbols(new AsyncResource('sluice.tasks.probe'));
  asyncIdKey = keys.find((key) => key.description === 'async_id_symbol');
  storesOnResources = asyncIdKey !== undefined;
}

/** Whether an init hook was on when `freshPromise` was made (only when `storesOnResources`). */
function initHookWasOn(freshPromise: object): boolean {
  return (freshPromise as Keyed)[asyncIdKey!] !== undefined;
}

/**
 * Captures the caller's context, or returns `undefined` when no store can exist. `freshPromise`,
 * if given, must be a promise the caller has just made (saves making one here).
 */
export function captureContext(freshPromise: object = Promise.resolve()): CapturedContext {
  if (!probed) probe();
  if (storesOnResources && !initHookWasOn(freshPromise)) {
    if (emptyContext === undefined) {
      // No init hook is on, so this resource gets no store, now or later (see `leaveContext`).
      emptyContext = new AsyncResource('sluice.tasks');
      emptyContextKeys = Object.getOwnPropertySymbols(emptyContext);
    }
    return undefined;
  }
  return new AsyncResource('sluice.tasks');
}

/** Calls `fn(argument)` in `context` (see `captureContext`); then call `leaveContext`. */
export function callInContext<A, R>(context: CapturedContext, fn: (argument: A) => R, argument: A): R {
  return (context ?? emptyContext!).runInAsyncScope(fn, undefined, argument);
}

/**
 * To call after `callInContext(context, ...)` returned or threw, with a promise made since. If the
 * task ran in the shared empty context while an init hook is on, clears any store it entered there
 * (`enterWith` stores on the current resource). Costs one property load otherwise.
 */
export function leaveContext(context: CapturedContext, freshPromise: object): void {
  if (context !== undefined || emptyContext === undefined || !initHookWasOn(freshPromise)) return;
  const resource = emptyContext as unknown as Keyed;
  for (const key of Object.getOwnPropertySymbols(resource)) {
    if (!emptyContextKeys.includes(key)) resource[key] = undefined;
  }
}
