import type { BufferPool } from '../buffers/index.js';
import {
  AbortError,
  ConcurrentNextError,
  InvalidArgumentError,
  RangeOutsideFileError,
  ReaderClosedError,
} from '../errors.js';
import { close } from './fs-async.js';
import { iterateWindows } from './iterate.js';
import { openRegularFile } from './open-file.js';
import { load, MAX_WINDOW, plan, recordThroughput } from './planner.js';
import { defaultPool } from './pools.js';
import { SyncSource } from './sources/sync.js';
import { ThreadpoolSource } from './sources/threadpool.js';
import { WorkerSource } from './sources/worker.js';
import type {
  FileStats,
  ManagedReader,
  OpenReaderOptions,
  SourceJob,
  Strategy,
  WindowSource,
} from './types.js';
import { MAX_SLOTS } from './worker-protocol.js';

const STRATEGIES: ReadonlySet<string> = new Set(['auto', 'threadpool', 'worker', 'sync']);
/**
 * The abort reason of a closing reader's stop signal: one constant, since \`abort()\` without a
 * reason makes a DOMException (a stack trace) per reader. Waits it cancels end in
 * \`SLUICE_ERR_READER_CLOSED\` (see \`next()\`), so it is never seen by callers.
 */
const STOPPED: unknown = Object.freeze({ reason: 'the reader closed' });

/**
 * Opens `path` for reading in managed windows. Resolves once the file is open and its size known;
 * rejects with a coded error for a missing file, a directory, a refused permission, a range outside
 * the file or bad options, holding nothing open.
 */
export async function openReader(path: string, options: OpenReaderOptions = {}): Promise<ManagedReader> {
  validate(path, options);
  const { signal } = options;
  const { fd, stats } = await openRegularFile(path, signal);
  try {
    const size = stats.size;
    const start = options.start ?? 0;
    const end = options.end ?? size - 1;
    if (options.end !== undefined && end >= size) throw new RangeOutsideFileError(path, start, end, size);
    if (start > size || (start === size && options.end !== undefined)) {
      throw new RangeOutsideFileError(path, start, end, size);
    }
    const length = Math.max(0, end - start + 1);
    const chosen = plan({
      length,
      strategy: options.strategy ?? 'auto',
      windowSize: options.windowSize,
      readAhead: options.readAhead,
      poolSlabSize: options.pool?.slabSize,
    });
    if (chosen.strategy === 'worker' && options.pool !== undefined) {
      throw new InvalidArgumentError(
        'pool',
        "absent with strategy 'worker' (its ring is shared memory, not pool slabs)",
        'a BufferPool',
      );
    }
    const fileStats: FileStats = {
      size,
      mtimeMs: stats.mtimeMs,
      dev: stats.dev,
      ino: stats.ino,
      mode: stats.mode,
    };
    const pool = options.pool ?? defaultPool(chosen.windowSize);
    // Reading to the end of the file (no `end` given): bytes past it mean the file grew meanwhile.
    const checkGrowth = options.end === undefined;
    return new Reader(
      path,
      fd,
      fileStats,
      { start, end, checkGrowth },
      chosen,
      pool,
      options.fairTurns === true,
      signal,
    );
  } catch (error) {
    await close(fd).catch(() => {});
    throw error;
  }
}

class Reader implements ManagedReader {
  readonly path: string;
  readonly size: number;
  readonly stats: FileStats;
  readonly start: number;
  readonly end: number;
  readonly strategy: Strategy;
  readonly windowSize: number;
  readonly readAhead: number;

  readonly #fd: number;
  readonly #source: WindowSource;
  /**
   * Aborted on close or on the caller's abort: cancels a source's wait for a buffer or a worker.
   * Made when a source first needs it (`job.signal`): most readers never wait, and an
   * AbortController with its signal and abort event costs ~2 KiB of heap per reader.
   */
  #stopper: AbortController | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: () => void;
  readonly #openedAt = performance.now();
  #position: number;
  #nextPending = false;
  #ended = false;
  #closing: Promise<void> | undefined;

  constructor(
    path: string,
    fd: number,
    stats: FileStats,
    range: { start: number; end: number; checkGrowth: boolean },
    chosen: { strategy: Strategy; windowSize: number; readAhead: number },
    pool: BufferPool,
    fairTurns: boolean,
    signal: AbortSignal | undefined,
  ) {
    this.path = path;
    this.#fd = fd;
    this.stats = stats;
    this.size = stats.size;
    const { start, end, checkGrowth } = range;
    this.start = start;
    this.end = Math.max(end, start - 1);
    this.#position = start;
    this.strategy = chosen.strategy;
    this.windowSize = chosen.windowSize;
    this.readAhead = chosen.readAhead;
    this.#signal = signal;
    const reader = this;
    const job: SourceJob = {
      path,
      fd,
      start,
      endExclusive: this.end + 1,
      checkGrowth,
      windowSize: chosen.windowSize,
      readAhead: chosen.readAhead,
      pool,
      fairTurns,
      get signal() {
        return reader.#stopSignal();
      },
    };
    this.#source =
      chosen.strategy === 'sync'
        ? new SyncSource(job)
        : chosen.strategy === 'worker'
          ? new WorkerSource(job)
          : new ThreadpoolSource(job);
    load.openReaders++;
    this.#onAbort = () => {
      void this.close();
    };
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  get position(): number {
    return this.#position;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  async next(): Promise<Buffer | null> {
    if (this.#ended) return null;
    this.#throwIfStopped();
    if (this.#nextPending) throw new ConcurrentNextError(this.path);
    this.#nextPending = true;
    let window: Buffer | null;
    try {
      window = await this.#source.next();
    } catch (error) {
      const closedMeanwhile = this.#closing !== undefined;
      await this.close();
      this.#throwIfAborted();
      if (closedMeanwhile) throw new ReaderClosedError(this.path);
      throw error;
    } finally {
      this.#nextPending = false;
    }
    this.#throwIfStopped();
    if (window === null) {
      this.#ended = true;
      recordThroughput(this.strategy, this.#position - this.start, performance.now() - this.#openedAt);
      await this.close();
      return null;
    }
    this.#position += window.length;
    return window;
  }

  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  #stopSignal(): AbortSignal {
    this.#stopper ??= new AbortController();
    if (this.#closing !== undefined) this.#stopper.abort(STOPPED);
    return this.#stopper.signal;
  }

  async #shutdown(): Promise<void> {
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#stopper?.abort(STOPPED);
    load.openReaders--;
    try {
      await this.#source.stop();
    } finally {
      await close(this.#fd).catch(() => {});
    }
  }

  #throwIfAborted(): void {
    if (this.#signal?.aborted) throw new AbortError(`reading ${this.path}`, this.#signal.reason);
  }

  #throwIfStopped(): void {
    this.#throwIfAborted();
    if (this.#closing !== undefined && !this.#ended) throw new ReaderClosedError(this.path);
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return iterateWindows(this);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function validate(path: string, options: OpenReaderOptions): void {
  if (typeof path !== 'string' || path.length === 0)
    throw new InvalidArgumentError('path', 'a non-empty string', path);
  if (path.includes('\0')) throw new InvalidArgumentError('path', 'a path without NUL bytes', path);
  if (typeof options !== 'object' || options === null)
    throw new InvalidArgumentError('options', 'an object', options);
  const { windowSize, readAhead, strategy, start, end, signal, pool, fairTurns } = options;
  if (fairTurns !== undefined && typeof fairTurns !== 'boolean') {
    throw new InvalidArgumentError('fairTurns', 'a boolean', fairTurns);
  }
  if (
    windowSize !== undefined &&
    (!Number.isSafeInteger(windowSize) || windowSize < 1 || windowSize > MAX_WINDOW)
  ) {
    throw new InvalidArgumentError('windowSize', `an integer from 1 to ${MAX_WINDOW}`, windowSize);
  }
  if (
    readAhead !== undefined &&
    (!Number.isSafeInteger(readAhead) || readAhead < 0 || readAhead >= MAX_SLOTS)
  ) {
    throw new InvalidArgumentError('readAhead', `an integer from 0 to ${MAX_SLOTS - 1}`, readAhead);
  }
  if (strategy !== undefined && !STRATEGIES.has(strategy)) {
    throw new InvalidArgumentError('strategy', "'auto', 'threadpool', 'worker' or 'sync'", strategy);
  }
  if (start !== undefined && (!Number.isSafeInteger(start) || start < 0)) {
    throw new InvalidArgumentError('start', 'an integer >= 0', start);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < (start ?? 0))) {
    throw new InvalidArgumentError('end', `an integer >= start (${start ?? 0}); it is inclusive`, end);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new InvalidArgumentError('signal', 'an AbortSignal', signal);
  }
  if (pool !== undefined && (typeof pool !== 'object' || typeof pool.acquire !== 'function')) {
    throw new InvalidArgumentError('pool', 'a BufferPool', pool);
  }
  if (pool !== undefined && windowSize !== undefined && windowSize !== pool.slabSize) {
    throw new InvalidArgumentError(
      'windowSize',
      `absent or equal to the pool's slab size (${pool.slabSize})`,
      windowSize,
    );
  }
}
