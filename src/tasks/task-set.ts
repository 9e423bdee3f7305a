import { AbortError, InvalidArgumentError, TaskSetClosedError } from '../errors.js';
import { Fifo } from '../internal/fifo.js';
import { TurnBudget } from './budget.js';
import { ChunkQueue } from './chunk-queue.js';
import { type CapturedContext, callInContext, captureContext, leaveContext } from './context.js';
import { checkConcurrency, DONE, type Waiter } from './iteration.js';

/** `fail-fast`: the first error stops the set. `collect-all`: every task runs, errors come last. */
export type TaskSetPolicy = 'fail-fast' | 'collect-all';

export interface TaskSetOptions {
  /** Tasks running at once (default 16). Tasks added beyond it wait in a FIFO. */
  concurrency?: number;
  /** Default `fail-fast`. */
  policy?: TaskSetPolicy;
  /** Aborting it cancels the set (`cancel(signal.reason)`). */
  signal?: AbortSignal;
}

/** A task of a set. `signal` aborts when the set is cancelled or fails fast. */
export type SetTask<T> = (signal: AbortSignal) => T | PromiseLike<T>;

/**
 * A bounded set of running tasks whose results are consumed as they settle, in completion order
 * (the `FuturesUnordered` use case): `add()` tasks, then `for await` over the set, or `drain()`.
 *
 * ```ts
 * const set = new TaskSet<Response>({ concurrency: 64 });
 * for (const url of urls) set.add((signal) => fetch(url, { signal }));
 * for await (const response of set) console.log(response.status);
 * ```
 *
 * Costs: `add()` is O(1) and makes no promise; each completion is O(1) (one shared reaction per
 * set, a FIFO push, at most one waiter woken); nothing iterates over the running tasks, ever.
 * Starting queued tasks from completions is budgeted per event-loop turn, so a set of tasks that
 * settle at once still lets timers and I/O run (see `TurnBudget`).
 *
 * Iteration ends when the set is empty: nothing running, queued or unconsumed. Tasks may be added
 * while iterating (from the loop body, say); a set that ran empty can be filled and iterated again.
 * Breaking out of a `for await` loop cancels what is left (as dropping a `FuturesUnordered` drops
 * its futures).
 *
 * Errors: with `fail-fast` the first error stops the set at once: queued tasks are dropped, running
 * ones see their signal abort, results not yet consumed are discarded, and the iteration (or
 * `drain()`) rejects with that error; later `add()` calls throw `SLUICE_ERR_TASK_SET_CLOSED`. With
 * `collect-all` every task runs; results come first and the iteration then rejects with an
 * `AggregateError` holding every error, in completion order.
 *
 * Memory: the set holds each queued task and each unconsumed result. Feed it from a lazy source with
 * `mapBounded`, which never pulls more than it can run.
 */
export class TaskSet<T> implements AsyncIterableIterator<T, undefined> {
  readonly policy: TaskSetPolicy;
  #concurrency: number;
  #active = 0;
  /** Queued tasks as pairs: the function, then its captured context. */
  #queue = new ChunkQueue<SetTask<T> | CapturedContext>();
  #results = new ChunkQueue<T>();
  #waiters = new Fifo<Waiter<T>>();
  #errors: unknown[] = [];
  /** The error that ends the set (fail-fast or cancel), until it has been delivered once. */
  #failure: { error: unknown } | undefined;
  #closedBecause: string | undefined;
  #controller = new AbortController();
  #outerSignal: AbortSignal | undefined;
  #listening = false;
  #budget = new TurnBudget();
  #resumeScheduled = false;

  constructor(options: TaskSetOptions = {}) {
    this.#concurrency = checkConcurrency(options.concurrency ?? 16, true);
    const policy = options.policy ?? 'fail-fast';
    if (policy !== 'fail-fast' && policy !== 'collect-all') {
      throw new InvalidArgumentError('policy', '"fail-fast" or "collect-all"', policy);
    }
    this.policy = policy;
    this.#outerSignal = options.signal;
    if (options.signal?.aborted) this.cancel(options.signal.reason);
  }

  /** Tasks running now (never above `concurrency`). */
  get activeCount(): number {
    return this.#active;
  }

  /** Tasks waiting for a slot. */
  get pendingCount(): number {
    return this.#queue.length >> 1;
  }

  /** Results settled and not yet consumed. */
  get bufferedCount(): number {
    return this.#results.length;
  }

  /** Running + waiting + unconsumed: 0 means the iteration would end now. */
  get size(): number {
    return this.#active + this.pendingCount + this.#results.length;
  }

  get concurrency(): number {
    return this.#concurrency;
  }

  /** Whether `add()` would throw (the set was cancelled, or failed fast). */
  get closed(): boolean {
    return this.#closedBecause !== undefined;
  }

  /**
   * Adds a task. It starts at once when a slot is free and none waits, in the caller's context;
   * otherwise it waits (FIFO) and later runs with the caller's AsyncLocalStorage stores.
   */
  add(fn: SetTask<T>): void {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function', fn);
    if (this.#closedBecause !== undefined) throw new TaskSetClosedError(this.#closedBecause);
    if (!this.#listening && this.#outerSignal !== undefined) {
      this.#listening = true;
      this.#outerSignal.addEventListener('abort', this.#onOuterAbort, { once: true });
    }
    if (this.#active < this.#concurrency && this.#queue.length === 0) {
      this.#start(fn, undefined, false);
      return;
    }
    this.#queue.push(fn);
    this.#queue.push(captureContext());
  }

  /** Cancels everything: queued tasks never run, running ones see their signal abort. */
  cancel(reason?: unknown): void {
    if (this.#closedBecause !== undefined) return;
    this.#close('cancelled', new AbortError('task set', reason));
  }

  /** Consumes the rest of the results (completion order), with the set's error policy. */
  async drain(): Promise<T[]> {
    const values: T[] = [];
    for (let result = await this.next(); result.done !== true; result = await this.next()) {
      values.push(result.value);
    }
    return values;
  }

  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#failure !== undefined) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return Promise.reject(error);
    }
    if (this.#closedBecause !== undefined) return Promise.resolve(DONE);
    if (this.#results.length > 0) {
      const value = this.#results.shift() as T;
      return Promise.resolve({ done: false, value });
    }
    if (this.#active === 0 && this.#queue.length === 0) {
      try {
        return Promise.resolve(this.#endOfResults());
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Called when a `for await` loop exits early: cancels what is left. */
  return(): Promise<IteratorResult<T, undefined>> {
    if (this.size > 0) this.cancel();
    this.#failure = undefined;
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #endOfResults(): IteratorResult<T, undefined> {
    this.#stopListening();
    if (this.#errors.length > 0) {
      const errors = this.#errors;
      this.#errors = [];
      throw new AggregateError(errors, `${errors.length} task(s) of the set failed`);
    }
    return DONE;
  }

  #start(fn: SetTask<T>, context: CapturedContext, queued: boolean): void {
    this.#active++;
    let result: T | PromiseLike<T>;
    try {
      result = queued ? callInContext(context, fn, this.#controller.signal) : fn(this.#controller.signal);
    } catch (error) {
      const failed = Promise.reject(error).then(undefined, this.#onError);
      if (queued) leaveContext(context, failed);
      return;
    }
    const settled = Promise.resolve(result).then(this.#onValue, this.#onError);
    if (queued) leaveContext(context, settled);
  }

  #startQueued(fromCompletion: boolean): void {
    if (fromCompletion && this.#resumeScheduled) return;
    while (this.#active < this.#concurrency && this.#queue.length > 0) {
      if (fromCompletion && this.#budget.spend()) {
        this.#resumeScheduled = true;
        setImmediate(this.#resume);
        return;
      }
      const fn = this.#queue.shift() as SetTask<T>;
      const context = this.#queue.shift() as CapturedContext;
      this.#start(fn, context, true);
    }
  }

  #resume = (): void => {
    this.#resumeScheduled = false;
    this.#budget.yielded();
    if (this.#closedBecause === undefined) this.#startQueued(false);
  };

  #onValue = (value: T): void => {
    this.#active--;
    if (this.#closedBecause !== undefined) return;
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#results.push(value);
    else waiter.resolve({ done: false, value });
    this.#startQueued(true);
    this.#settleWaitersIfEmpty();
  };

  #onError = (error: unknown): void => {
    this.#active--;
    if (this.#closedBecause !== undefined) return;
    if (this.policy === 'fail-fast') {
      this.#close('a task failed and the policy is fail-fast', error);
      return;
    }
    this.#errors.push(error);
    this.#startQueued(true);
    this.#settleWaitersIfEmpty();
  };

  #onOuterAbort = (): void => {
    this.#listening = false;
    this.cancel(this.#outerSignal?.reason);
  };

  /** When the set ran empty, waiting consumers learn that the iteration is over. */
  #settleWaitersIfEmpty(): void {
    if (this.#active > 0 || this.#queue.length > 0 || this.#waiters.length === 0) return;
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      try {
        waiter.resolve(this.#endOfResults());
      } catch (error) {
        waiter.reject(error);
      }
    }
  }

  #close(why: string, error: unknown): void {
    this.#closedBecause = why;
    this.#queue.clear();
    this.#results.clear();
    this.#errors = [];
    this.#stopListening();
    this.#controller.abort(error);
    const waiter = this.#waiters.shift();
    if (waiter === undefined) this.#failure = { error };
    else waiter.reject(error);
    for (let other = this.#waiters.shift(); other !== undefined; other = this.#waiters.shift()) {
      other.resolve(DONE);
    }
  }

  #stopListening(): void {
    if (!this.#listening) return;
    this.#listening = false;
    this.#outerSignal?.removeEventListener('abort', this.#onOuterAbort);
  }
}
