/**
 * Long-lived worker threads that run one job at a time, shared through leases: sluice/file's read
 * workers (a reader leases one for its whole range) and sluice/zip's CRC threads (one per file).
 *
 * Invariants:
 * - a thread is either idle (in `#idle`, unref'd: it never keeps the process alive), leased to
 *   exactly one holder, or failed (out of `#threads` for good; never leased again);
 * - at most `max()` threads exist; a lease beyond them waits, first come first served, and an
 *   abort while waiting removes the waiter and rejects with `SLUICE_ERR_ABORTED`;
 * - a thread that throws or exits settles its current job with the error (a `ReadWorkerError`),
 *   so a holder waiting on `run` always wakes.
 */
import { Worker } from 'node:worker_threads';
import { AbortError, ReadWorkerError } from '../errors.js';
import { Fifo } from './fifo.js';

/** What `ThreadLeases` needs of a thread. */
export interface LeasableThread {
  readonly thread: Worker;
  /** Set once the thread threw, exited or was terminated: it is never leased again. */
  failed: boolean;
  /** Set once the thread started running its module (Worker 'online'): it takes a job at once. */
  readonly online: boolean;
}

/** One thread; `run` posts a job and resolves with its one reply, or with the error that ended the thread. */
export class JobThread<Job, Reply> implements LeasableThread {
  readonly thread: Worker;
  failed = false;
  online = false;
  #onReply: ((reply: Reply | Error) => void) | undefined;
  readonly #onFailed: (thread: LeasableThread) => void;

  constructor(url: URL, name: string, onFailed: (thread: LeasableThread) => void) {
    this.#onFailed = onFailed;
    this.thread = new Worker(url, { name });
    this.thread.once('online', () => {
      this.online = true;
    });
    this.thread.on('message', (reply: Reply) => this.#settle(reply));
    this.thread.on('error', (error) => this.#fail(new ReadWorkerError(`the ${name} threw`, error)));
    this.thread.on('exit', (code) => this.#fail(new ReadWorkerError(`the ${name} exited with code ${code}`)));
    // after the listeners: adding the first 'message' listener refs the worker's port again, and a
    // thread started ahead (`startUpTo`) that never ran a job would keep the process alive
    this.thread.unref();
  }

  run(job: Job): Promise<Reply | Error> {
    return new Promise((resolve) => {
      this.#onReply = resolve;
      this.thread.ref();
      this.thread.postMessage(job);
    });
  }

  #settle(reply: Reply | Error): void {
    const onReply = this.#onReply;
    this.#onReply = undefined;
    this.thread.unref();
    onReply?.(reply);
  }

  #fail(error: Error): void {
    if (!this.failed) {
      this.failed = true;
      this.#onFailed(this);
    }
    this.#settle(error);
  }
}

/** A bounded, lazily started set of threads of one kind, leased one holder at a time. */
export class ThreadLeases<T extends LeasableThread> {
  readonly #threads: T[] = [];
  readonly #idle: T[] = [];
  readonly #waiting = new Fifo<(thread: T) => void>();
  readonly #create: (onFailed: (thread: LeasableThread) => void) => T;
  readonly #max: () => number;
  /** Names what a waiting holder waits for, in its abort error. */
  readonly #what: string;

  constructor(what: string, max: () => number, create: (onFailed: (thread: LeasableThread) => void) => T) {
    this.#what = what;
    this.#max = max;
    this.#create = create;
  }

  /** Threads leased or idle (failed ones excluded). */
  get size(): number {
    return this.#threads.length;
  }

  /** Whether a job would run at once: an idle thread is online. */
  get readyIdle(): boolean {
    return this.#idle.some((thread) => thread.online && !thread.failed);
  }

  /** Whether a thread is still starting (not online yet). */
  get starting(): boolean {
    return this.#threads.some((thread) => !thread.online && !thread.failed);
  }

  /** Starts threads up to `count` (within the bound) now, so that they are ready when needed. */
  startUpTo(count: number): void {
    while (this.#threads.length < Math.min(count, this.#max())) this.giveBack(this.#start());
  }

  /** An idle thread, a new one under the bound, or the next one given back. */
  lease(signal: AbortSignal | undefined): Promise<T> {
    let thread = this.#idle.pop();
    while (thread?.failed) thread = this.#idle.pop();
    if (thread === undefined && this.#threads.length < this.#max()) thread = this.#start();
    if (thread !== undefined) return Promise.resolve(thread);
    return new Promise<T>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiting.remove(take);
        reject(new AbortError(`waiting for a ${this.#what}`, signal?.reason));
      };
      const take = (leased: T): void => {
        signal?.removeEventListener('abort', onAbort);
        resolve(leased);
      };
      if (signal?.aborted) {
        onAbort();
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiting.push(take);
    });
  }

  /**
   * Ends a lease: the thread goes to the oldest waiter, or idles. A failed thread is dropped, and
   * the oldest waiter gets a new thread in its place (else it would wait for a thread that is gone).
   */
  giveBack(thread: T): void {
    if (thread.failed) {
      if (this.#waiting.length > 0 && this.#threads.length < this.#max())
        this.#waiting.shift()!(this.#start());
      return;
    }
    const next = this.#waiting.shift();
    if (next !== undefined) next(thread);
    else this.#idle.push(thread);
  }

  /** Terminates the idle threads (started again on demand). For tests and clean exits. */
  async terminateIdle(): Promise<void> {
    const stopping = this.#idle.splice(0).map((thread) => {
      thread.failed = true;
      this.#forget(thread);
      return thread.thread.terminate();
    });
    await Promise.all(stopping);
  }

  #start(): T {
    const thread = this.#create((failed) => this.#forget(failed as T));
    this.#threads.push(thread);
    return thread;
  }

  #forget(thread: T): void {
    const index = this.#threads.indexOf(thread);
    if (index !== -1) this.#threads.splice(index, 1);
  }
}
