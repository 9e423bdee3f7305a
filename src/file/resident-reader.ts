/**
 * A `ManagedReader` over bytes already read (by a `scanTree` worker): one window, the whole file.
 * Same contract as `openReader`'s readers: the window stays valid until `next()` or `close()`
 * (then its slab is lent out again), `next()` after `close()` is `SLUICE_ERR_READER_CLOSED`,
 * aborting the signal makes `next()` reject with `SLUICE_ERR_ABORTED`.
 */
import { AbortError, ReaderClosedError } from '../errors.js';
import { iterateWindows } from './iterate.js';
import type { FileStats, ManagedReader, Strategy } from './types.js';

export class ResidentReader implements ManagedReader {
  readonly path: string;
  readonly size: number;
  readonly stats: FileStats;
  readonly start = 0;
  readonly end: number;
  /** The bytes were read synchronously on a worker thread. */
  readonly strategy: Strategy = 'worker';
  readonly windowSize: number;
  readonly readAhead = 0;
  readonly #signal: AbortSignal | undefined;
  #window: Buffer | undefined;
  #delivered = false;
  #closed = false;

  constructor(path: string, window: Buffer, stats: FileStats, signal: AbortSignal | undefined) {
    this.path = path;
    this.#window = window;
    this.stats = stats;
    this.size = window.length;
    this.end = window.length - 1;
    this.windowSize = Math.max(1, window.length);
    this.#signal = signal;
  }

  get position(): number {
    return this.#delivered ? this.size : 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  async next(): Promise<Buffer | null> {
    if (this.#signal?.aborted) {
      this.#release();
      throw new AbortError(`reading ${this.path}`, this.#signal.reason);
    }
    if (this.#delivered) {
      this.#release();
      return null;
    }
    if (this.#closed) throw new ReaderClosedError(this.path);
    this.#delivered = true;
    // Windows are never empty: an empty file ends at once.
    if (this.size === 0) {
      this.#release();
      return null;
    }
    return this.#window!;
  }

  async close(): Promise<void> {
    this.#release();
  }

  #release(): void {
    this.#closed = true;
    this.#window = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return iterateWindows(this);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
