import type { BufferPool } from '../buffers/index.js';

/** How a reader gets bytes from the kernel. */
export type Strategy = 'threadpool' | 'worker' | 'sync';

export interface OpenReaderOptions {
  /** Bytes per window. Default: chosen by the planner from the file size and the readers open. */
  windowSize?: number;
  /** Windows read ahead of the consumer (0: read only when asked). Default: chosen by the planner. */
  readAhead?: number;
  /** `auto` (default) lets the planner choose; the others force a strategy. */
  strategy?: Strategy | 'auto';
  /** First byte to read (default 0). */
  start?: number;
  /** Last byte to read, inclusive as in HTTP ranges and `fs.createReadStream` (default: the last byte). */
  end?: number;
  /** Aborting rejects the pending `next()` with `SLUICE_ERR_ABORTED` and closes the reader. */
  signal?: AbortSignal;
  /**
   * Take windows from this pool (so a server can bound all readers' memory together); the window
   * size is then the pool's slab size. A reader always gets one window (waiting its turn, first come
   * first served) and reads ahead only with slabs that are free at that moment.
   */
  pool?: BufferPool;
  /**
   * Take turns with other readers of the same pool. A reader keeps its window for its whole range
   * by default; with `fairTurns`, whenever somebody waits for the pool when `next()` is called, the
   * reader gives its window back (it goes to the oldest waiter) and queues for another, so N readers
   * sharing M < N windows advance in turn, first come first served, instead of the first M finishing
   * while the rest wait. The file stays open meanwhile. Off by default: one consumer that drains a
   * reader while it leaves another reader's window unreturned would wait forever. Ignored by the
   * `worker` strategy (its ring is its own). Servers turn it on (sluice/http does).
   */
  fairTurns?: boolean;
}

/** What the file was when the reader opened it. */
export interface FileStats {
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  mode: number;
}

export interface ManagedReader extends AsyncIterable<Buffer>, AsyncDisposable {
  readonly path: string;
  /** The file's size when opened. */
  readonly size: number;
  readonly stats: FileStats;
  /** First byte delivered. */
  readonly start: number;
  /** Last byte delivered, inclusive (`start - 1` for an empty range). */
  readonly end: number;
  readonly strategy: Strategy;
  readonly windowSize: number;
  readonly readAhead: number;
  /** File offset of the next byte `next()` will deliver. */
  readonly position: number;
  readonly closed: boolean;
  /**
   * The next window of bytes, in order, or `null` after the last one. The window stays valid until
   * the next `next()` or `close()`; after that its memory is reused (under `SLUICE_DEBUG=1` it is
   * poisoned or detached). Windows are never empty.
   */
  next(): Promise<Buffer | null>;
  /** Stops reading, waits for reads in flight, closes the file and returns every buffer. Idempotent. */
  close(): Promise<void>;
}

/** Produces the windows of one open file; the reader owns the fd and the public contract. */
export interface WindowSource {
  /** Releases the previous window (if any), then resolves to the next one, or null at the end. */
  next(): Promise<Buffer | null>;
  /** Stops: waits for operations in flight on the fd, releases every buffer. Never closes the fd. */
  stop(): Promise<void>;
}

/** What a source needs to know about its job. */
export interface SourceJob {
  path: string;
  fd: number;
  /** First byte. */
  start: number;
  /** One past the last byte. */
  endExclusive: number;
  /** True when reading to the end of the file: finding more bytes there is `SLUICE_ERR_FILE_GREW`. */
  checkGrowth: boolean;
  windowSize: number;
  readAhead: number;
  pool: BufferPool;
  /** Give the held window back between windows when others wait for the pool (`OpenReaderOptions.fairTurns`). */
  fairTurns: boolean;
  /**
   * Aborted when the reader closes. A getter that makes the signal on first use: read it only when
   * about to wait (`pool.tryAcquire() ?? await pool.acquire(job.signal)`).
   */
  readonly signal: AbortSignal | undefined;
}
