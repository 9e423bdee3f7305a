import { AbortError, InvalidArgumentError } from '../errors.js';
import { Fifo } from '../internal/fifo.js';
import { TurnBudget } from './budget.js';
import { type CapturedContext, callInContext, captureContext, leaveContext } from './context.js';
import { checkConcurrency, DONE, type Waiter } from './iteration.js';

export interface MapBoundedOptions {
  /** Calls of `fn` running at once; also the most items pulled ahead of the consumer. */
  concurrency: number;
  /** `true` (default): results in input order. `false`: in completion order. */
  ordered?: boolean;
  /** Aborting it stops everything: the iteration rejects with `SLUICE_ERR_ABORTED`. */
  signal?: AbortSignal;
}

export type MapFn<T, R> = (item: T, index: number, signal: AbortSignal) => R | PromiseLike<R>;

/**
 * Maps `input` through `fn` with at most `concurrency` calls running, as an async iterable of
 * results. It pulls lazily: an item is taken from `input` only when a slot is free and fewer than
 * `concurrency` results wait for the consumer, so
 *
 *     items pulled <= items consumed + concurrency
 *
 * at every moment and a generator of 1e6 items is never materialized. Sync and async iterables are
 * accepted (async ones are pulled one `next()` at a time).
 *
 * ```ts
 * for await (const size of mapBounded(walk(dir), (path) => stat(path).then((s) => s.size), { concurrency: 32 })) {
 *   total += size;
 * }
 * ```
 *
 * The first error (from `fn`, from the input, or the signal's abort) stops it: no more items are
 * pulled, the input is closed (`return()`), running calls see their signal abort, unconsumed results
 * are dropped and the iteration rejects with that error. Breaking out of the loop does the same,
 * quietly. Work chained through microtasks is budgeted per event-loop turn (`TurnBudget`), so even
 * when every call settles at once, timers and I/O keep running during a long drain.
 */
export function mapBounded<T, R>(
  input: Iterable<T> | AsyncIterable<T>,
  fn: MapFn<T, R>,
  options: MapBoundedOptions,
): AsyncIterableIterator<Awaited<R>, undefined> {
  return new MapBounded<T, Awaited<R>>(input, fn as MapFn<T, Awaited<R>>, options);
}

/**
 * Invariants:
 * - `pulled - acknowledged <= concurrency`: an item is pulled only while it holds (the lazy bound).
 *   `acknowledged` counts results the consumer is done with (it asked for the next one since), so
 *   `acknowledged <= delivered <= pulled`, and items pulled never exceed consumed + concurrency.
 * - ordered: the results of items `delivered .. pulled - 1` live in `slots[index % concurrency]`;
 *   the bound above means no two of them share a slot.
 * - once `failed` or `closed`, nothing more is pulled or started and late results are dropped.
 */
class MapBounded<T, R> implements AsyncIterableIterator<R, undefined> {
  readonly #fn: MapFn<T, R>;
  readonly #concurrency: number;
  readonly #ordered: boolean;
  readonly #source: Iterator<T> | AsyncIterator<T>;
  readonly #sourceIsAsync: boolean;
  readonly #context: CapturedContext;
  readonly #controller = new AbortController();
  readonly #outerSignal: AbortSignal | undefined;
  readonly #budget = new TurnBudget();
  #pulled = 0;
  /** Results handed to the consumer. */
  #delivered = 0;
  /** Results the consumer is done with: those delivered before its latest `next()` call. */
  #acknowledged = 0;
  #pulling = false;
  #sourceDone = false;
  #closed = false;
  #failure: { error: unknown } | undefined;
  #resumeScheduled = false;
  /** Unordered: results in completion order. */
  readonly #results = new Fifo<R>();
  /** Ordered: results by `index % concurrency`, `#settled[slot] === 1` when present. */
  readonly #slots: (R | undefined)[];
  readonly #settled: Uint8Array;
  readonly #waiters = new Fifo<Waiter<R>>();

  constructor(input: Iterable<T> | AsyncIterable<T>, fn: MapFn<T, R>, options: MapBoundedOptions) {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function', fn);
    const concurrency = checkConcurrency(options?.concurrency, false);
    const asyncIterator = (input as AsyncIterable<T> | null)?.[Symbol.asyncIterator];
    const syncIterator = (input as Iterable<T> | null)?.[Symbol.iterator];
    if (typeof asyncIterator === 'function') {
      this.#source = asyncIterator.call(input);
      this.#sourceIsAsync = true;
    } else if (typeof syncIterator === 'function') {
      this.#source = syncIterator.call(input);
      this.#sourceIsAsync = false;
    } else {
      throw new InvalidArgumentError('input', 'an iterable or async iterable', input);
    }
    this.#fn = fn;
    this.#concurrency = concurrency;
    this.#ordered = options.ordered ?? true;
    this.#slots = this.#ordered ? new Array<R | undefined>(concurrency) : [];
    this.#settled = new Uint8Array(this.#ordered ? concurrency : 0);
    this.#context = captureContext();
    this.#outerSignal = options.signal;
    if (options.signal?.aborted) {
      this.#fail(new AbortError('mapBounded', options.signal.reason));
    } else {
      options.signal?.addEventListener('abort', this.#onOuterAbort, { once: true });
    }
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<R, undefined>> {
    if (this.#failure !== undefined) {
      const { error } = this.#failure;
      this.#failure = undefined;
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.resolve(DONE);
    this.#acknowledged = this.#delivered;
    const ready = this.#takeReady();
    if (ready !== undefined) {
      this.#pump(true);
      return Promise.resolve(ready);
    }
    if (this.#finished()) {
      this.#close();
      return Promise.resolve(DONE);
    }
    const promise = new Promise<IteratorResult<R, undefined>>((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
    this.#pump(true);
    return promise;
  }

  /** Stops early (a `for await` loop was left): closes the input, aborts running calls. */
  async return(): Promise<IteratorResult<R, undefined>> {
    this.#failure = undefined;
    if (!this.#closed) {
      this.#close();
      this.#controller.abort(new AbortError('mapBounded'));
      await this.#closeSource();
    }
    return DONE;
  }

  /** The next result due to the consumer, if it has settled. */
  #takeReady(): IteratorResult<R, undefined> | undefined {
    if (this.#ordered) {
      const slot = this.#delivered % this.#concurrency;
      if (this.#settled[slot] !== 1) return undefined;
      const value = this.#slots[slot] as R;
      this.#slots[slot] = undefined;
      this.#settled[slot] = 0;
      this.#delivered++;
      return { done: false, value };
    }
    if (this.#results.length === 0) return undefined;
    this.#delivered++;
    return { done: false, value: this.#results.shift() as R };
  }

  #finished(): boolean {
    return this.#sourceDone && !this.#pulling && this.#pulled === this.#delivered;
  }

  /** Pulls and starts items while the bounds allow. */
  #pump(budgeted: boolean): void {
    if (budgeted && this.#resumeScheduled) return;
    while (
      !this.#closed &&
      !this.#sourceDone &&
      !this.#pulling &&
      this.#pulled - this.#acknowledged < this.#concurrency
    ) {
      if (budgeted && this.#budget.spend()) {
        this.#resumeScheduled = true;
        setImmediate(this.#resume);
        return;
      }
      if (this.#sourceIsAsync) {
        this.#pulling = true;
        let pull: Promise<IteratorResult<T>>;
        try {
          pull = Promise.resolve(callInContext(this.#context, nextOf, this.#source as AsyncIterator<T>));
        } catch (error) {
          pull = Promise.reject(error);
        }
        leaveContext(this.#context, pull.then(this.#onPulled, this.#onSourceError));
        return;
      }
      let step: IteratorResult<T>;
      try {
        step = callInContext(this.#context, nextOf, this.#source as Iterator<T>) as IteratorResult<T>;
      } catch (error) {
        this.#onSourceError(error);
        return;
      }
      if (step.done === true) {
        this.#sourceDone = true;
        this.#wakeIfFinished();
        return;
      }
      this.#start(step.value);
    }
  }

  #resume = (): void => {
    this.#resumeScheduled = false;
    this.#budget.yielded();
    this.#pump(false);
  };

  #onPulled = (step: IteratorResult<T>): void => {
    this.#pulling = false;
    if (this.#closed) return;
    if (step.done === true) {
      this.#sourceDone = true;
      this.#wakeIfFinished();
      return;
    }
    this.#start(step.value);
    this.#pump(true);
  };

  #onSourceError = (error: unknown): void => {
    this.#pulling = false;
    this.#sourceDone = true;
    this.#fail(error);
  };

  #start(item: T): void {
    const index = this.#pulled++;
    let result: R | PromiseLike<R>;
    try {
      result = callInContext(
        this.#context,
        (value: T) => this.#fn(value, index, this.#controller.signal),
        item,
      );
    } catch (error) {
      result = Promise.reject(error);
    }
    const onValue = this.#ordered ? (value: R) => this.#onOrderedValue(index, value) : this.#onUnorderedValue;
    leaveContext(this.#context, Promise.resolve(result).then(onValue, this.#onError));
  }

  #onOrderedValue(index: number, value: R): void {
    if (this.#closed) return;
    const slot = index % this.#concurrency;
    this.#slots[slot] = value;
    this.#settled[slot] = 1;
    if (index === this.#delivered) this.#deliver();
  }

  #onUnorderedValue = (value: R): void => {
    if (this.#closed) return;
    this.#results.push(value);
    this.#deliver();
  };

  #onError = (error: unknown): void => {
    if (this.#closed) return;
    this.#fail(error);
  };

  /** Hands ready results to waiting consumers, then refills. */
  #deliver(): void {
    while (this.#waiters.length > 0) {
      const ready = this.#takeReady();
      if (ready === undefined) break;
      this.#waiters.shift()!.resolve(ready);
    }
    this.#pump(true);
    this.#wakeIfFinished();
  }

  #wakeIfFinished(): void {
    if (this.#waiters.length === 0 || !this.#finished()) return;
    this.#close();
  }

  #onOuterAbort = (): void => {
    this.#fail(new AbortError('mapBounded', this.#outerSignal?.reason));
  };

  #fail(error: unknown): void {
    if (this.#closed) return;
    // The oldest waiting consumer gets the error (or the next `next()` call); the others, `done`.
    const waiter = this.#waiters.shift();
    this.#close();
    this.#controller.abort(error);
    if (waiter === undefined) this.#failure = { error };
    else waiter.reject(error);
    void this.#closeSource();
  }

  /** Ends the iteration: no more pulls or starts; waiting consumers get `done`. */
  #close(): void {
    this.#closed = true;
    this.#outerSignal?.removeEventListener('abort', this.#onOuterAbort);
    // Results may be `undefined`, which `Fifo.drain()` would take for the end: empty it by count.
    while (this.#results.length > 0) this.#results.shift();
    this.#slots.fill(undefined);
    this.#endWaiters();
  }

  #endWaiters(): void {
    for (let waiter = this.#waiters.shift(); waiter !== undefined; waiter = this.#waiters.shift()) {
      waiter.resolve(DONE);
    }
  }

  /** Closes the input (`return()`), unless it ended by itself. Its own errors are ignored. */
  async #closeSource(): Promise<void> {
    if (this.#sourceDone && !this.#pulling) return;
    this.#sourceDone = true;
    try {
      await this.#source.return?.();
    } catch {
      // The input failed while being closed; the iteration already ended with its own outcome.
    }
  }
}

function nextOf<T>(iterator: Iterator<T> | AsyncIterator<T>): IteratorResult<T> | Promise<IteratorResult<T>> {
  return iterator.next();
}
