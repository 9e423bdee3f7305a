import { AbortError, InvalidArgumentError, TaskCancelledError } from '../errors.js';
import { TurnBudget } from './budget.js';
import { ChunkQueue } from './chunk-queue.js';
import { type CapturedContext, callInContext, captureContext, leaveContext } from './context.js';
import { checkConcurrency } from './iteration.js';

/** A unit of work. It receives the `signal` it was submitted with (or `undefined`). */
export type Task<T> = (signal: AbortSignal | undefined) => T | PromiseLike<T>;

export interface LimitRunOptions {
  /**
   * Aborting it while the task waits removes the task from the queue at once and rejects its
   * promise with `SLUICE_ERR_ABORTED`. A task already running is not interrupted (it receives the
   * signal and may stop itself); its slot is held until it settles, so the bound stays true.
   */
  signal?: AbortSignal;
}

/** Runs tasks with at most `concurrency` of them running at once (see `limit`). */
export interface Limiter {
  <T>(fn: Task<T>, options?: LimitRunOptions): Promise<Awaited<T>>;
  /** The bound. Raising it starts queued tasks at once; lowering it lets running tasks finish. */
  concurrency: number;
  /** Tasks started and not yet settled. Never above `concurrency`. */
  readonly activeCount: number;
  /** Tasks waiting for a slot. */
  readonly pendingCount: number;
  /**
   * Drops every waiting task: each one's promise rejects with `SLUICE_ERR_TASK_CANCELLED` (`cause`
   * is `reason`) and its function never runs. Returns how many were dropped.
   */
  clearQueue(reason?: unknown): number;
}

type Resolve = (value: unknown) => void;

/**
 * A waiting task that needs more than its function: an abort signal or a captured context. It is
 * its own abort listener (`handleEvent`), so a task submitted with a signal costs no closure.
 * `fn === undefined` marks it settled (aborted): it stays in the queue until it reaches the head,
 * holding nothing (lazy deletion keeps removal O(1)).
 */
class QueuedTask {
  fn: Task<unknown> | undefined;
  readonly signal: AbortSignal | undefined;
  readonly context: CapturedContext;
  readonly owner: LimiterCore;
  readonly resolve: Resolve;

  constructor(
    owner: LimiterCore,
    fn: Task<unknown>,
    signal: AbortSignal | undefined,
    context: CapturedContext,
    resolve: Resolve,
  ) {
    this.owner = owner;
    this.fn = fn;
    this.signal = signal;
    this.context = context;
    this.resolve = resolve;
  }

  handleEvent(): void {
    this.owner.abandon(this, new AbortError('queued task', this.signal?.reason));
  }
}

/**
 * What `new Promise(captureResolvers)` hands out: no executor closure per task. Only `resolve` is
 * kept: resolving with a rejected promise rejects, and the `reject` function left unreferenced is
 * garbage at once instead of 64 bytes retained per waiting task.
 */
let capturedResolve: Resolve | undefined;
function captureResolvers(resolve: Resolve): void {
  capturedResolve = resolve;
}

function invoke(task: QueuedTask): unknown {
  return task.fn!(task.signal);
}

function invokePlain(fn: Task<unknown>): unknown {
  return fn(undefined);
}

/**
 * Invariants:
 * - `active <= concurrency` whenever a task starts: a task starts only after `active++` below it.
 * - `queue` holds two slots per waiting task: its function and `resolve`, or (when it has a
 *   signal or a captured context) a `QueuedTask` and a `null` slot. Most tasks thus cost no object
 *   beyond their promise, which matters: at 1e6 queued tasks, the collector's work on what they
 *   retain is most of the limiter's cost.
 * - `pending` counts live tasks in `queue`; aborted ones may still sit in it (lazy deletion).
 * - a task's slot is released exactly once, by a shared reaction on the promise of its result
 *   (`release`/`releaseError` for a task started at once, `releaseSlot` for a queued one), whether
 *   it returned, threw synchronously or rejected.
 * - starting queued tasks from completions is budgeted per event-loop turn (`TurnBudget`); when
 *   spent, the rest start from `setImmediate`, so tasks that settle at once never starve timers.
 */
class LimiterCore {
  concurrency: number;
  active = 0;
  pending = 0;
  readonly queue = new ChunkQueue<Task<unknown> | QueuedTask | Resolve | null>();
  readonly budget = new TurnBudget();
  #resumeScheduled = false;

  constructor(concurrency: number) {
    this.concurrency = concurrency;
  }

  /** Reaction to a task's result: frees its slot and passes the value on. No closure per task. */
  readonly release = (value: unknown): unknown => {
    this.active--;
    if (this.pending > 0) this.startQueued(true);
    return value;
  };

  readonly releaseError = (error: unknown): never => {
    this.active--;
    if (this.pending > 0) this.startQueued(true);
    throw error;
  };

  readonly releaseSlot = (): void => {
    this.active--;
    if (this.pending > 0) this.startQueued(true);
  };

  readonly resume = (): void => {
    this.#resumeScheduled = false;
    this.budget.yielded();
    this.startQueued(false);
  };

  run(fn: Task<unknown>, options: LimitRunOptions | undefined): Promise<unknown> {
    if (typeof fn !== 'function') return Promise.reject(new InvalidArgumentError('fn', 'a function', fn));
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(new AbortError('task', signal.reason));
    if (this.active < this.concurrency && this.pending === 0) {
      // A free slot and nobody ahead: run now, in the caller's own context.
      this.active++;
      let result: unknown;
      try {
        result = fn(signal);
      } catch (error) {
        return Promise.reject(error).then(this.release, this.releaseError);
      }
      return Promise.resolve(result).then(this.release, this.releaseError);
    }
    const promise = new Promise(captureResolvers);
    const resolve = capturedResolve!;
    capturedResolve = undefined;
    const context = captureContext(promise);
    if (signal === undefined && context === undefined) {
      this.queue.push(fn);
      this.queue.push(resolve);
    } else {
      const task = new QueuedTask(this, fn, signal, context, resolve);
      this.queue.push(task);
      this.queue.push(null);
      signal?.addEventListener('abort', task, { once: true });
    }
    this.pending++;
    return promise;
  }

  startQueued(fromCompletion: boolean): void {
    // While a resume is scheduled, completions only free slots: the resume refills them.
    if (fromCompletion && this.#resumeScheduled) return;
    while (this.active < this.concurrency && this.pending > 0) {
      if (fromCompletion && this.budget.spend()) {
        if (!this.#resumeScheduled) {
          this.#resumeScheduled = true;
          setImmediate(this.resume);
        }
        return;
      }
      const head = this.queue.shift() as Task<unknown> | QueuedTask;
      const resolve = (this.queue.shift() as Resolve | null) ?? (head as QueuedTask).resolve;
      if (typeof head !== 'function' && head.fn === undefined) continue;
      this.pending--;
      this.active++;
      let context: CapturedContext;
      let result: unknown;
      try {
        if (typeof head === 'function') {
          result = callInContext(undefined, invokePlain, head);
        } else {
          context = head.context;
          head.signal?.removeEventListener('abort', head);
          result = callInContext(context, invoke, head);
          head.fn = undefined;
        }
      } catch (error) {
        result = Promise.reject(error);
      }
      // Free the slot when the result settles; the caller's promise follows the result.
      const settled = Promise.resolve(result);
      leaveContext(context, settled.then(this.releaseSlot, this.releaseSlot));
      resolve(settled);
    }
  }

  /** Settles a waiting task without running it. */
  abandon(task: QueuedTask, error: unknown): void {
    if (task.fn === undefined) return;
    task.fn = undefined;
    this.pending--;
    task.signal?.removeEventListener('abort', task);
    // Nobody left waiting: drop the settled entries now rather than when the queue is next used.
    if (this.pending === 0) this.queue.clear();
    task.resolve(Promise.reject(error));
  }

  clearQueue(reason: unknown): number {
    let dropped = 0;
    while (this.queue.length > 0) {
      const head = this.queue.shift() as Task<unknown> | QueuedTask;
      const resolve = this.queue.shift() as Resolve | null;
      const error = new TaskCancelledError('queued task', reason);
      if (typeof head === 'function') {
        this.pending--;
        resolve!(Promise.reject(error));
        dropped++;
      } else if (head.fn !== undefined) {
        this.abandon(head, error);
        dropped++;
      }
    }
    return dropped;
  }
}

/**
 * Returns a function that runs tasks with at most `concurrency` running at once, in the order
 * submitted (like p-limit, with O(1) queueing and no per-task closure):
 *
 * ```ts
 * const limited = limit(8);
 * const pages = await Promise.all(urls.map((url) => limited((signal) => fetch(url, { signal }))));
 * ```
 *
 * - A task starts synchronously inside the call when a slot is free and nobody waits; otherwise it
 *   waits in a FIFO and starts when a running task settles.
 * - It runs with its caller's AsyncLocalStorage stores, even when started by another's completion.
 * - A task that throws synchronously or rejects frees its slot like any other; the returned promise
 *   rejects with its error. A thrown or rejected task never wedges the limiter.
 */
export function limit(concurrency: number): Limiter {
  const core = new LimiterCore(checkConcurrency(concurrency, true));
  const limiter = <T>(fn: Task<T>, options?: LimitRunOptions): Promise<Awaited<T>> =>
    core.run(fn as Task<unknown>, options) as Promise<Awaited<T>>;
  Object.defineProperties(limiter, {
    concurrency: {
      get: () => core.concurrency,
      set: (value: unknown) => {
        core.concurrency = checkConcurrency(value, true);
        core.startQueued(false);
      },
    },
    activeCount: { get: () => core.active },
    pendingCount: { get: () => core.pending },
    clearQueue: { value: (reason?: unknown) => core.clearQueue(reason) },
  });
  return limiter as Limiter;
}
