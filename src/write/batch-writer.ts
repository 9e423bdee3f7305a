import { Buffer } from 'node:buffer';
import process from 'node:process';
import { BufferPool } from '../buffers/index.js';
import {
  FlushSyncUnavailableError,
  InvalidArgumentError,
  ReservationError,
  SyncUnsupportedError,
  WriteBufferFullError,
  WriteFailedError,
  WriterClosedError,
} from '../errors.js';
import { debugEnabled } from '../internal/debug.js';
import { Fifo } from '../internal/fifo.js';
import { ChunkQueue } from './chunk-queue.js';
import { openSink, type SinkOptions, type WriteTarget } from './open.js';
import type { WriteSink } from './sink.js';

/**
 * When a batch smaller than `flushBytes` is written: `'immediate'` (setImmediate: after the I/O
 * callbacks of this loop iteration, so lines produced by several callbacks share a batch) or
 * `'tick'` (process.nextTick: before the loop goes back to polling, no added loop iteration; what a
 * request/reply transport wants, docs/net.md).
 */
export type FlushScheduling = 'tick' | 'immediate';

/** Options of `BatchWriter.open()`: the sink's and the batching core's. */
export interface OpenOptions extends SinkOptions, BatchWriterOptions {}

export interface BatchWriterOptions {
  /** Bytes per pooled chunk (slab). A reservation is at most this big. Default 64 KiB. */
  slabSize?: number;
  /**
   * A write starts as soon as this many bytes are pending (otherwise at the end of the turn).
   * Default 128 KiB: the fastest and steadiest batch for writev into the page cache here (64 KiB to
   * 1 MiB measured; docs/write.md).
   */
  flushBytes?: number;
  /** At most this many bytes per write syscall. Default 1 MiB. */
  maxBatchBytes?: number;
  /** When a batch below `flushBytes` is written. Default `'immediate'`. */
  scheduling?: FlushScheduling;
  /**
   * `write()`s of a Uint8Array at least this big are queued by reference instead of copied (an
   * iovec of their own): the caller must not modify the bytes until `flush()` resolves. Default:
   * never (every write is copied, and the caller may reuse its buffer at once).
   */
  referenceBytes?: number;
  /** `write()` returns false once this many bytes are buffered. Default 1 MiB. */
  highWaterMark?: number;
  /** The hard bound on buffered (accepted, not yet written) bytes. Default 8 MiB. */
  maxBufferedBytes?: number;
  /**
   * What happens to a write that would pass `maxBufferedBytes`. `'wait'` (default): nothing is taken
   * and `write()`/`reserve()` throw `SLUICE_ERR_WRITE_BUFFER_FULL` (`writeAsync()` waits instead).
   * `'drop'`: the bytes are dropped and counted in `stats.droppedBytes`, and `onDrop` is called.
   */
  onFull?: 'wait' | 'drop';
  /** Called with the size of each dropped write (`onFull: 'drop'`). */
  onDrop?: (bytes: number) => void;
  /**
   * Called when the buffered bytes fall below `highWaterMark` again after reaching it (when a
   * `write()` returned false): the callback form of `ready()`, with no promise per wait.
   */
  onDrain?: () => void;
  /** Called once when the writer fails (the same error then rejects `flush()`/`close()` and is thrown by `write()`). */
  onError?: (error: WriteFailedError) => void;
  /** How long `EAGAIN` (a non-blocking fd that is full) is retried, with backoff, before failing. Default 10 s. */
  retryBudgetMs?: number;
  /** Take chunks from this pool instead of a private one (its `slabSize` wins). */
  pool?: BufferPool;
  /** Detach reserved views on commit (default: `SLUICE_DEBUG=1`). */
  debug?: boolean;
}

export interface BatchWriterStats {
  /** Bytes accepted and not yet written. */
  bufferedBytes: number;
  peakBufferedBytes: number;
  /** Bytes accepted since open (dropped bytes excluded). */
  acceptedBytes: number;
  /** Bytes that reached the kernel. */
  writtenBytes: number;
  /** Write calls handed to the sink (syscalls for fds, `_writev` batches for sockets). */
  writeCalls: number;
  /** Writes that took less than they were given (the rest was written next). */
  partialWrites: number;
  /** `EAGAIN` retries. */
  retries: number;
  droppedWrites: number;
  droppedBytes: number;
  /**
   * Slab memory the writer holds, in use or kept for reuse. Once everything is written it keeps at
   * most MAX_IDLE_SLABS free slabs (a burst's slabs are freed, so a writer idle after a burst, e.g. a
   * connection that queued for a slow peer, does not keep that burst's memory).
   */
  heldBytes: number;
}

/** Free slabs an idle writer keeps for its next batches (beyond these, they are freed). */
const MAX_IDLE_SLABS = 4;
/**
 * A writer frees a burst's slabs at most once per this many ms. A steady stream empties its buffer
 * between batches all the time: freeing there would free and allocate slabs at every batch (the
 * `write` experiment's socket case lost 40% of its throughput and doubled its RSS that way). An
 * idle writer whose burst ended sooner after the last trim gets an unref'd timer for the rest.
 */
const TRIM_INTERVAL_MS = 1000;

const OPEN = 0;
const CLOSING = 1;
const CLOSED = 2;
const FAILED = 3;
type State = typeof OPEN | typeof CLOSING | typeof CLOSED | typeof FAILED;

interface FlushWaiter {
  /** Resolve once `writtenBytes >= target`. */
  target: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface AsyncWrite {
  data: string | Uint8Array;
  byteLength: number;
  resolve(): void;
  reject(error: unknown): void;
}

interface Reservation {
  view: Buffer;
  size: number;
  /** The view is a separate buffer: copied on commit (debug: to detach it; full + drop: to count it). */
  copy: 'debug' | 'drop' | false;
}

/**
 * Coalesces many small writes into few large ones (writev of pooled chunks), with reserve/commit
 * for callers that encode in place. Bytes are written in the order they were accepted.
 *
 * Invariants:
 * - `#chunks` holds every accepted byte not yet written, in order (see ChunkQueue); strings
 *   written since the last batch wait in `#rope`, ahead of nothing: they are encoded before any
 *   other byte is added and before a write starts.
 * - `#buffered === #accepted - #written` and never exceeds `maxBufferedBytes`.
 * - at most one sink write is in flight (`#inFlight > 0`); it covers the first `#inFlight` buffered
 *   bytes, which nothing modifies until it completes; new bytes only go after the tail's fill.
 * - an open reservation is `[tailFill, tailFill + size)` of the tail, which stays the tail and is
 *   never rewound while the reservation is open.
 */
export class BatchWriter {
  readonly target: string;
  readonly slabSize: number;
  readonly highWaterMark: number;
  readonly maxBufferedBytes: number;
  readonly flushBytes: number;
  readonly onFull: 'wait' | 'drop';
  readonly scheduling: FlushScheduling;
  readonly referenceBytes: number;

  #sink: WriteSink;
  #pool: BufferPool;
  #ownsPool: boolean;
  #debug: boolean;
  #maxBatchBytes: number;
  #retryBudgetMs: number;
  #onDrop: ((bytes: number) => void) | undefined;
  #onDrain: (() => void) | undefined;
  #onError: ((error: WriteFailedError) => void) | undefined;

  #chunks: ChunkQueue;

  #state: State = OPEN;
  #failure: WriteFailedError | undefined;
  #closing: Promise<void> | undefined;
  #reservation: Reservation | undefined;

  #buffered = 0;
  #accepted = 0;
  #written = 0;
  #inFlight = 0;
  #peakBuffered = 0;
  #writeCalls = 0;
  #partialWrites = 0;
  #retries = 0;
  #droppedWrites = 0;
  #droppedBytes = 0;

  #turnEndScheduled = false;
  /** cork() depth: above 0, no end-of-turn write is scheduled (the last uncork() writes instead). */
  #corked = 0;
  #slabsTakenAtTrim = 0;
  #lastTrimAt = Number.NEGATIVE_INFINITY;
  #trimTimer: NodeJS.Timeout | undefined;
  /** Strings written since the last #materialize(), joined; they fit the tail even at 3 bytes per unit. */
  #rope = '';
  #ropeUnits = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryStartedAt = 0;
  #retryDelayMs = 1;

  #flushWaiters = new Fifo<FlushWaiter>();
  #readyWaiters: { resolve(): void; reject(error: unknown): void }[] = [];
  /** Resolves `whenIdle()`: called when the in-flight write completes. */
  #onIdle: (() => void) | undefined;
  #asyncWrites = new Fifo<AsyncWrite>();

  constructor(sink: WriteSink, options: BatchWriterOptions = {}) {
    this.#sink = sink;
    this.target = sink.target;
    this.#ownsPool = options.pool === undefined;
    const slabSize = options.pool?.slabSize ?? positive('slabSize', options.slabSize, 64 * 1024);
    this.slabSize = slabSize;
    this.flushBytes = positive('flushBytes', options.flushBytes, 128 * 1024);
    this.#maxBatchBytes = positive('maxBatchBytes', options.maxBatchBytes, 1024 * 1024);
    this.highWaterMark = positive('highWaterMark', options.highWaterMark, 1024 * 1024);
    this.maxBufferedBytes = positive(
      'maxBufferedBytes',
      options.maxBufferedBytes,
      Math.max(8 * 1024 * 1024, this.highWaterMark),
    );
    if (this.maxBufferedBytes < this.highWaterMark) {
      throw new InvalidArgumentError(
        'maxBufferedBytes',
        `at least highWaterMark (${this.highWaterMark})`,
        this.maxBufferedBytes,
      );
    }
    const onFull = options.onFull ?? 'wait';
    if (onFull !== 'wait' && onFull !== 'drop')
      throw new InvalidArgumentError('onFull', "'wait' or 'drop'", onFull);
    this.onFull = onFull;
    this.#retryBudgetMs = options.retryBudgetMs ?? 10_000;
    if (!(this.#retryBudgetMs >= 0)) {
      throw new InvalidArgumentError('retryBudgetMs', 'a number >= 0', options.retryBudgetMs);
    }
    this.#onDrop = options.onDrop;
    this.#onDrain = options.onDrain;
    const scheduling = options.scheduling ?? 'immediate';
    if (scheduling !== 'tick' && scheduling !== 'immediate') {
      throw new InvalidArgumentError('scheduling', "'tick' or 'immediate'", scheduling);
    }
    this.scheduling = scheduling;
    this.referenceBytes =
      options.referenceBytes === undefined
        ? Number.POSITIVE_INFINITY
        : positive('referenceBytes', options.referenceBytes, 0);
    this.#onError = options.onError;
    this.#debug = options.debug ?? debugEnabled();
    // Enough slabs for maxBufferedBytes even when every slab wastes a little at its end (a
    // reservation that did not fit seals the tail), plus the tail being filled.
    this.#pool =
      options.pool ??
      new BufferPool({
        slabSize,
        maxSlabs: Math.ceil(this.maxBufferedBytes / slabSize) * 2 + 1,
        name: `write ${this.target}`,
        debug: false,
      });
    this.#chunks = new ChunkQueue(this.#pool);
  }

  /**
   * Opens a writer to a path (appending, or truncating with `mode: 'truncate'`), an open fd, or a
   * socket / `Writable`. `new BatchWriter(sink, options)` plugs in any other `WriteSink`.
   */
  static async open(target: WriteTarget, options: OpenOptions = {}): Promise<BatchWriter> {
    const sink = await openSink(target, options);
    try {
      return new BatchWriter(sink, options);
    } catch (error) {
      await sink.close().catch(() => {});
      throw error;
    }
  }

  /** Bytes accepted and not yet written. */
  get bufferedBytes(): number {
    return this.#buffered + (this.#ropeUnits === 0 ? 0 : Buffer.byteLength(this.#rope));
  }

  /** True when `write()` would return false (at or past the high-water mark). */
  get needsDrain(): boolean {
    return this.#buffered + this.#ropeUnits >= this.highWaterMark;
  }

  get closed(): boolean {
    return this.#state !== OPEN;
  }

  get stats(): BatchWriterStats {
    if (this.#ropeUnits !== 0) this.#materialize(false);
    return {
      bufferedBytes: this.#buffered,
      peakBufferedBytes: this.#peakBuffered,
      acceptedBytes: this.#accepted,
      writtenBytes: this.#written,
      writeCalls: this.#writeCalls,
      partialWrites: this.#partialWrites,
      retries: this.#retries,
      droppedWrites: this.#droppedWrites,
      droppedBytes: this.#droppedBytes,
      heldBytes: this.#heldBytes(),
    };
  }

  /**
   * Appends `data` (a string is written as UTF-8). Returns false once `highWaterMark` bytes are
   * buffered: wait with `await writer.ready()`. Past `maxBufferedBytes` the `onFull` policy applies.
   * Throws the writer's `WriteFailedError` once a write failed.
   */
  write(data: string | Uint8Array): boolean {
    if (this.#state !== OPEN || this.#reservation !== undefined || this.#asyncWrites.length > 0) {
      this.#checkWritable('write');
      // writeAsync() calls wait for room: a write() now would overtake them
      if (this.#asyncWrites.length > 0) {
        return this.#full(typeof data === 'string' ? Buffer.byteLength(data) : data.length);
      }
    }
    if (data.length === 0) return this.#buffered + this.#ropeUnits < this.highWaterMark;
    if (typeof data === 'string') {
      // Fast path: join the string to the rope (a V8 cons string: no copy). The rope is encoded
      // into the tail with one call when it must be (#materialize); one Buffer#write per line
      // costs more than the line's bytes. At most 3 bytes per UTF-16 unit, so the rope surely fits.
      const units = this.#ropeUnits + data.length;
      if (
        units * 3 <= this.#chunks.tailEnd - this.#chunks.tailFill &&
        this.#buffered + units * 3 <= this.maxBufferedBytes
      ) {
        this.#rope = units === data.length ? data : this.#rope + data;
        this.#ropeUnits = units;
        this.#scheduleTurnEnd();
        return this.#buffered + units < this.highWaterMark;
      }
      if (this.#ropeUnits !== 0) this.#materialize(true);
      const worstCase = data.length * 3;
      if (
        worstCase <= this.#chunks.tailEnd - this.#chunks.tailFill &&
        this.#buffered + worstCase <= this.maxBufferedBytes
      ) {
        this.#rope = data;
        this.#ropeUnits = data.length;
        this.#scheduleTurnEnd();
        return this.#buffered + data.length < this.highWaterMark;
      }
      if (!this.#appendString(data)) return false;
    } else if (this.#ropeUnits !== 0 || data.length >= this.referenceBytes) {
      if (this.#ropeUnits !== 0) this.#materialize(true);
      if (!this.#appendBytes(data)) return false;
    } else if (
      data.length <= this.#chunks.tailEnd - this.#chunks.tailFill &&
      this.#buffered + data.length <= this.maxBufferedBytes
    ) {
      const chunks = this.#chunks;
      chunks.tail!.set(data, chunks.tailFill);
      chunks.tailFill += data.length;
      this.#added(data.length);
    } else if (!this.#appendBytes(data)) {
      return false;
    }
    return this.#buffered < this.highWaterMark;
  }

  /**
   * Writes `data` once it fits under `maxBufferedBytes`, waiting (first come, first served) while
   * the writer is full; resolves when the bytes are accepted (not yet written: see `flush()`).
   */
  writeAsync(data: string | Uint8Array): Promise<void> {
    try {
      this.#checkWritable('writeAsync');
      if (this.#ropeUnits !== 0) this.#materialize(true);
      if (typeof data !== 'string' && !(data instanceof Uint8Array)) {
        throw new InvalidArgumentError('data', 'a string, Buffer or Uint8Array', data);
      }
      const byteLength = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      this.#checkSize(byteLength);
      if (this.#asyncWrites.length === 0 && this.#fits(byteLength)) {
        this.#append(data);
        return Promise.resolve();
      }
      return new Promise((resolve, reject) => {
        this.#asyncWrites.push({ data, byteLength, resolve, reject });
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Returns a writable view of `size` bytes inside the pending batch: encode into it, then call
   * `commit(written)`. Nothing is copied. The view must not be used after `commit()`; under
   * `SLUICE_DEBUG=1` it is detached by `commit()` (its length becomes 0) so misuse fails loudly.
   */
  reserve(size: number): Buffer {
    this.#checkWritable('reserve');
    if (this.#ropeUnits !== 0) this.#materialize(true);
    if (!Number.isSafeInteger(size) || size < 1 || size > this.slabSize) {
      throw new InvalidArgumentError(
        'reserve size',
        `an integer from 1 to slabSize (${this.slabSize})`,
        size,
      );
    }
    if (this.#chunks.tailEnd - this.#chunks.tailFill < size || !this.#fitsBytes(size)) {
      if (!this.#fits(size)) {
        if (this.onFull === 'wait') {
          throw new WriteBufferFullError(this.target, size, this.#buffered, this.maxBufferedBytes);
        }
        const view = Buffer.allocUnsafe(size);
        this.#reservation = { view, size, copy: 'drop' };
        return view;
      }
      this.#newTail();
    }
    const { tail, tailFill } = this.#chunks;
    if (this.#debug) {
      const view = Buffer.from(new ArrayBuffer(size));
      this.#reservation = { view, size, copy: 'debug' };
      return view;
    }
    const view = tail!.subarray(tailFill, tailFill + size);
    this.#reservation = { view, size, copy: false };
    return view;
  }

  /** Accepts the first `written` bytes of the reserved view. Returns what `write()` would. */
  commit(written: number): boolean {
    const reservation = this.#reservation;
    if (reservation === undefined) throw new ReservationError(this.target, 'commit() without reserve()');
    if (!Number.isSafeInteger(written) || written < 0 || written > reservation.size) {
      throw new ReservationError(
        this.target,
        `commit(${String(written)}) must be an integer from 0 to the ${reservation.size} bytes reserved`,
      );
    }
    this.#reservation = undefined;
    if (reservation.copy === 'drop') {
      if (written > 0) this.#drop(written);
      return false;
    }
    if (this.#state !== OPEN) {
      // the writer failed while the caller encoded: the bytes cannot be accepted
      if (reservation.copy === 'debug') detach(reservation.view);
      throw this.#failure ?? new WriterClosedError(this.target, 'commit');
    }
    if (reservation.copy === 'debug') {
      reservation.view.copy(this.#chunks.tail!, this.#chunks.tailFill, 0, written);
      detach(reservation.view);
    }
    this.#chunks.tailFill += written;
    if (written > 0) this.#added(written);
    return this.#buffered < this.highWaterMark;
  }

  /** Resolves when fewer than `highWaterMark` bytes are buffered (at once if so already). */
  ready(): Promise<void> {
    if (this.#state === FAILED) return Promise.reject(this.#failure);
    if (this.#buffered + this.#ropeUnits < this.highWaterMark || this.#state !== OPEN)
      return Promise.resolve();
    this.#kickSafely(); // encodes the rope and starts a write if none is in flight
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (this.#buffered < this.highWaterMark) return Promise.resolve();
    return new Promise((resolve, reject) => this.#readyWaiters.push({ resolve, reject }));
  }

  /**
   * Holds back the end-of-turn write until the matching `uncork()` (calls nest, as on streams).
   * For a caller that knows when its burst ends, e.g. a connection handling one read: the burst
   * leaves as soon as it is complete rather than at the end of the turn, with no `nextTick` hop.
   * Only the end-of-turn write waits: `flushBytes` still starts a write early, `flush()` writes at
   * once, and a write in flight is followed by the next as usual.
   */
  cork(): void {
    this.#corked++;
  }

  /** Ends one `cork()`; the last one starts the write of what is buffered (if none is in flight). */
  uncork(): void {
    if (this.#corked === 0) return;
    this.#corked--;
    if (this.#corked === 0 && (this.#buffered > 0 || this.#ropeUnits !== 0)) this.#kickSafely();
  }

  /** Writes everything accepted so far now; resolves when those bytes reached the kernel. */
  flush(): Promise<void> {
    if (this.#state === FAILED) return Promise.reject(this.#failure);
    if (this.#state === CLOSED) return Promise.reject(new WriterClosedError(this.target, 'flush'));
    if (this.#ropeUnits !== 0) this.#materialize(false);
    const target = this.#accepted;
    if (this.#written >= target) return Promise.resolve();
    const promise = new Promise<void>((resolve, reject) => {
      this.#flushWaiters.push({ target, resolve, reject });
    });
    this.#kickSafely();
    return promise;
  }

  /**
   * Writes everything accepted so far before returning, on the calling thread: for
   * `process.on('exit')` handlers, where promises never settle. Needs a sink that can write
   * synchronously (a path or fd; not a socket) and no threadpool write in flight. `EAGAIN` is
   * retried by sleeping 1 ms at a time, within `retryBudgetMs`.
   */
  flushSync(): void {
    if (this.#state === FAILED) throw this.#failure;
    if (this.#state === CLOSED) throw new WriterClosedError(this.target, 'flushSync');
    const sink = this.#sink;
    const writevSync = sink.writevSync;
    if (writevSync === undefined)
      throw new FlushSyncUnavailableError(this.target, 'it is not a file descriptor');
    if (this.#inFlight > 0)
      throw new FlushSyncUnavailableError(this.target, 'a threadpool write is in flight');
    if (this.#ropeUnits !== 0) this.#materialize(false);
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    let retryStartedAt = 0;
    while (this.#buffered > 0) {
      const chunks = this.#collect();
      let bytesWritten: number;
      try {
        bytesWritten = writevSync.call(sink, chunks);
      } catch (error) {
        this.#inFlight = 0;
        const now = performance.now();
        retryStartedAt ||= now;
        if ((error as { code?: unknown }).code === 'EAGAIN' && now - retryStartedAt <= this.#retryBudgetMs) {
          this.#retries++;
          Atomics.wait(sleepCell, 0, 0, 1);
          continue;
        }
        throw this.#fail(error);
      }
      if (bytesWritten > 0) retryStartedAt = 0;
      this.#completed(bytesWritten);
    }
  }

  /** Flushes, then makes the bytes durable (`fdatasync`). Files only. */
  async sync(): Promise<void> {
    const sync = this.#sink.sync;
    if (sync === undefined) throw new SyncUnsupportedError(this.target);
    await this.flush();
    try {
      await sync.call(this.#sink);
    } catch (error) {
      // After a failed fdatasync the state of the written pages is unknown: fail the writer.
      throw this.#fail(error, 'fdatasync');
    }
  }

  /**
   * Writes what is buffered, then closes the sink (the fd if sluice opened it). Rejects with the
   * writer's failure if a write failed, after releasing everything. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    if (this.#ropeUnits !== 0 && this.#state === OPEN) this.#materialize(false);
    if (this.#state === OPEN) this.#state = CLOSING;
    const reservation = this.#reservation;
    if (reservation !== undefined) {
      // an uncommitted reservation was never accepted: nothing is lost by abandoning it
      this.#reservation = undefined;
      if (reservation.copy === 'debug') detach(reservation.view);
    }
    for (const pending of this.#asyncWrites.drain()) {
      pending.reject(new WriterClosedError(this.target, 'writeAsync'));
    }
    if (this.#state === CLOSING && this.#buffered > 0) {
      const target = this.#accepted;
      await new Promise<void>((resolve) => {
        this.#flushWaiters.push({ target, resolve, reject: () => resolve() });
        this.#kickSafely();
      });
    }
    await this.#whenIdle();
    let closeError: unknown;
    try {
      await this.#sink.close();
    } catch (error) {
      closeError = error;
    }
    this.#stopTrimTimer();
    this.#releaseAll();
    if (this.#ownsPool) this.#pool.close();
    const failure = this.#failure;
    if (this.#state !== FAILED) this.#state = CLOSED;
    for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    if (failure !== undefined) throw failure;
    if (closeError !== undefined) throw this.#fail(closeError, 'close');
    this.#state = CLOSED;
  }

  // --- accepting bytes -------------------------------------------------------------------------

  #checkWritable(operation: string): void {
    if (this.#state === FAILED) throw this.#failure;
    if (this.#state !== OPEN) throw new WriterClosedError(this.target, operation);
    if (this.#reservation !== undefined) {
      throw new ReservationError(this.target, `${operation}() while a reservation is open; commit() first`);
    }
  }

  #checkSize(byteLength: number): void {
    if (byteLength > this.maxBufferedBytes) {
      throw new InvalidArgumentError(
        'data',
        `at most maxBufferedBytes (${this.maxBufferedBytes}) bytes per write`,
        `${byteLength} bytes`,
      );
    }
  }

  #fitsBytes(byteLength: number): boolean {
    return this.#buffered + byteLength <= this.maxBufferedBytes;
  }

  /** Whether `byteLength` more bytes fit under both bounds: bytes, and slabs left in the pool. */
  #fits(byteLength: number): boolean {
    return this.#fitsBytes(byteLength) && this.#chunks.hasSlabsFor(byteLength);
  }

  /** Refuses (wait), or drops and counts (drop), a write that does not fit. Returns false. */
  #full(byteLength: number): false {
    if (this.onFull === 'wait') {
      throw new WriteBufferFullError(this.target, byteLength, this.#buffered, this.maxBufferedBytes);
    }
    this.#drop(byteLength);
    return false;
  }

  #drop(byteLength: number): void {
    this.#droppedWrites++;
    this.#droppedBytes += byteLength;
    this.#onDrop?.(byteLength);
  }

  #appendString(data: string): boolean {
    const byteLength = Buffer.byteLength(data);
    this.#checkSize(byteLength);
    if (!this.#fits(byteLength)) return this.#full(byteLength);
    this.#append(data);
    return true;
  }

  #appendBytes(data: Uint8Array): boolean {
    if (!(data instanceof Uint8Array)) {
      throw new InvalidArgumentError('data', 'a string, Buffer or Uint8Array', data);
    }
    this.#checkSize(data.length);
    if (data.length >= this.referenceBytes ? !this.#fitsBytes(data.length) : !this.#fits(data.length)) {
      return this.#full(data.length);
    }
    this.#append(data);
    return true;
  }

  /** Copies `data` (already checked to fit) after the tail, continuing into new slabs. */
  #append(data: string | Uint8Array): void {
    const chunks = this.#chunks;
    if (typeof data === 'string') {
      const byteLength = Buffer.byteLength(data);
      if (byteLength <= chunks.tailEnd - chunks.tailFill) {
        chunks.tailFill += chunks.tail!.write(data, chunks.tailFill);
        this.#added(byteLength);
        return;
      }
      data = Buffer.from(data);
    } else if (data.length >= this.referenceBytes) {
      chunks.appendReference(data);
      this.#added(data.length);
      return;
    }
    // #fits() saw the slabs in the pool and nothing ran since (this is synchronous): they are there
    if (!chunks.append(data)) throw new Error('sluice/write: pool emptied between check and append');
    this.#added(data.length);
  }

  #newTail(): void {
    if (!this.#chunks.newTail()) throw new Error('sluice/write: pool emptied between check and use');
  }

  /**
   * Encodes the rope into the tail (it fits: checked when each string joined it) and accepts its
   * bytes. `schedule`: start a write if that passes `flushBytes` (not when called by #kick itself).
   */
  #materialize(schedule: boolean): void {
    const rope = this.#rope;
    this.#rope = '';
    this.#ropeUnits = 0;
    const chunks = this.#chunks;
    const length = chunks.tail!.write(rope, chunks.tailFill);
    chunks.tailFill += length;
    this.#buffered += length;
    this.#accepted += length;
    if (this.#buffered > this.#peakBuffered) this.#peakBuffered = this.#buffered;
    if (schedule && this.#buffered - this.#inFlight >= this.flushBytes) this.#kick();
  }

  /** Schedules the end-of-turn write, unless it is scheduled already or a cork() holds it back. */
  #scheduleTurnEnd(): void {
    if (this.#turnEndScheduled || this.#corked !== 0) return;
    this.#turnEndScheduled = true;
    if (this.scheduling === 'tick') process.nextTick(this.#onTurnEnd);
    else setImmediate(this.#onTurnEnd);
  }

  /** Accounts `byteLength` accepted bytes and schedules their write. */
  #added(byteLength: number): void {
    this.#buffered += byteLength;
    this.#accepted += byteLength;
    if (this.#buffered > this.#peakBuffered) this.#peakBuffered = this.#buffered;
    if (this.#buffered - this.#inFlight >= this.flushBytes) {
      this.#kick();
    } else {
      this.#scheduleTurnEnd();
    }
  }

  /** End of the current turn: write what the turn produced. */
  #onTurnEnd = (): void => {
    this.#turnEndScheduled = false;
    if (this.#state === OPEN || this.#state === CLOSING) this.#kickSafely();
  };

  // --- writing ---------------------------------------------------------------------------------

  /** Starts a write unless one is in flight or waiting to retry (their completion continues). */
  #kick(): void {
    if (this.#ropeUnits !== 0 && this.#state !== FAILED) this.#materialize(false);
    if (this.#inFlight > 0 || this.#retryTimer !== undefined || this.#state === FAILED) return;
    if (this.#buffered === 0) return;
    const sink = this.#sink;
    if (sink.kind === 'async') {
      sink.writev(this.#collect(), this.#onWritten);
      return;
    }
    // Synchronous sink: write until nothing is pending. A failure is thrown to the caller (write(),
    // flush()); from the end-of-turn callback it is kept and reported by the next call and onError.
    while (this.#buffered > 0) {
      const chunks = this.#collect();
      let bytesWritten: number;
      try {
        bytesWritten = sink.writevSync(chunks);
      } catch (error) {
        this.#inFlight = 0;
        if (this.#retryLater(error)) return;
        throw this.#fail(error);
      }
      this.#completed(bytesWritten);
    }
  }

  #onWritten = (error: Error | null, bytesWritten: number): void => {
    this.#inFlight = 0;
    const onIdle = this.#onIdle;
    this.#onIdle = undefined;
    onIdle?.();
    if (this.#state === FAILED) {
      this.#releaseAll(); // #fail() ran while this write was in flight (a failed fdatasync)
      return;
    }
    if (error !== null) {
      if (!this.#retryLater(error)) this.#fail(error);
      return;
    }
    this.#completed(bytesWritten);
    this.#kick();
  };

  /** The buffered bytes from the head, at most `maxBatchBytes` and 1024 chunks; marks them in flight. */
  #collect(): Buffer[] {
    const { chunks, bytes } = this.#chunks.collect(this.#maxBatchBytes);
    this.#inFlight = bytes;
    this.#writeCalls++;
    return chunks;
  }

  /** `bytesWritten` of the in-flight bytes reached the kernel: release what is done, wake waiters. */
  #completed(bytesWritten: number): void {
    if (bytesWritten < this.#inFlight) this.#partialWrites++;
    this.#inFlight = 0;
    if (bytesWritten > 0) {
      this.#retryStartedAt = 0;
      this.#retryDelayMs = 1;
    }
    const before = this.#buffered;
    this.#buffered -= bytesWritten;
    this.#written += bytesWritten;
    this.#chunks.consume(bytesWritten, this.#reservation === undefined);
    if (this.#buffered === 0 && this.#chunks.slabsTaken - this.#slabsTakenAtTrim > MAX_IDLE_SLABS) {
      this.#trimWhenDue();
    }
    this.#wake();
    if (before >= this.highWaterMark && this.#buffered < this.highWaterMark) this.#onDrain?.();
  }

  #wake(): void {
    while (this.#flushWaiters.length > 0 && this.#flushWaiters.peek()!.target <= this.#written) {
      this.#flushWaiters.shift()!.resolve();
    }
    if (this.#asyncWrites.length > 0 && this.#ropeUnits !== 0) this.#materialize(false);
    while (this.#asyncWrites.length > 0 && this.#fits(this.#asyncWrites.peek()!.byteLength)) {
      const pending = this.#asyncWrites.shift()!;
      this.#append(pending.data);
      pending.resolve();
    }
    if (this.#buffered < this.highWaterMark && this.#readyWaiters.length > 0) {
      for (const waiter of this.#readyWaiters.splice(0)) waiter.resolve();
    }
  }

  /** `EAGAIN`: retry after a backoff (1, 2, 4 .. 100 ms) within the budget. Returns false when spent. */
  #retryLater(error: unknown): boolean {
    if ((error as { code?: unknown }).code !== 'EAGAIN') return false;
    const now = performance.now();
    if (this.#retryStartedAt === 0) this.#retryStartedAt = now;
    if (now - this.#retryStartedAt > this.#retryBudgetMs) return false;
    this.#retries++;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#kickSafely();
    }, this.#retryDelayMs);
    this.#retryDelayMs = Math.min(this.#retryDelayMs * 2, 100);
    return true;
  }

  /** Resolves when no write is in flight: the fd may be closed then, never before. */
  #whenIdle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#onIdle;
      this.#onIdle = () => {
        previous?.();
        resolve();
      };
    });
  }

  #kickSafely(): void {
    try {
      this.#kick();
    } catch {
      // #fail() recorded it; flush()/close()/write() and onError report it
    }
  }

  /** Fails the writer: every byte not written is counted in the error, and every waiter gets it. */
  #fail(cause: unknown, operation?: string): WriteFailedError {
    if (this.#failure !== undefined) return this.#failure;
    if (this.#ropeUnits !== 0) {
      // accepted strings not yet encoded: they count as accepted and not written
      const ropeBytes = Buffer.byteLength(this.#rope);
      this.#rope = '';
      this.#ropeUnits = 0;
      this.#accepted += ropeBytes;
      this.#buffered += ropeBytes;
    }
    const elapsed = this.#retryStartedAt === 0 ? 0 : Math.round(performance.now() - this.#retryStartedAt);
    const detail =
      (cause as { code?: unknown }).code === 'EAGAIN'
        ? `EAGAIN for ${elapsed} ms, beyond retryBudgetMs ${this.#retryBudgetMs}`
        : operation === undefined
          ? undefined
          : `${operation}: ${cause instanceof Error ? cause.message : String(cause)}`;
    const failure = new WriteFailedError(this.target, cause, this.#written, this.#buffered, detail);
    this.#failure = failure;
    this.#state = FAILED;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#stopTrimTimer();
    this.#releaseAll();
    for (const waiter of this.#flushWaiters.drain()) waiter.reject(failure);
    for (const pending of this.#asyncWrites.drain()) pending.reject(failure);
    for (const waiter of this.#readyWaiters.splice(0)) waiter.reject(failure);
    this.#onError?.(failure);
    return failure;
  }

  /**
   * Everything is written, and more slabs than the idle ones were taken since the last trim: free
   * what a burst left (keeping MAX_IDLE_SLABS), now if the last trim is TRIM_INTERVAL_MS old, else
   * when it will be, if the writer is still idle then.
   */
  #trimWhenDue(): void {
    const now = performance.now();
    const wait = this.#lastTrimAt + TRIM_INTERVAL_MS - now;
    if (wait <= 0) this.#trimIdle(now);
    else if (this.#trimTimer === undefined) {
      this.#trimTimer = setTimeout(this.#onTrimTimer, wait);
      this.#trimTimer.unref();
    }
  }

  #stopTrimTimer(): void {
    if (this.#trimTimer !== undefined) clearTimeout(this.#trimTimer);
    this.#trimTimer = undefined;
  }

  readonly #onTrimTimer = (): void => {
    this.#trimTimer = undefined;
    if (this.#buffered === 0 && this.#state === OPEN) this.#trimIdle(performance.now());
  };

  #trimIdle(now: number): void {
    this.#lastTrimAt = now;
    this.#slabsTakenAtTrim = this.#chunks.slabsTaken;
    if (this.#ownsPool) this.#pool.trim(MAX_IDLE_SLABS);
  }

  #heldBytes(): number {
    const { inUse, free } = this.#pool.stats();
    return this.#ownsPool ? (inUse + free) * this.slabSize : inUse * this.slabSize;
  }

  #releaseAll(): void {
    if (this.#inFlight > 0) return; // the sink still reads them; #onWritten comes back here
    this.#chunks.releaseAll();
  }
}

/** Atomics.wait on this never wakes early: a 1 ms sleep for flushSync()'s EAGAIN retries. */
const sleepCell = new Int32Array(new SharedArrayBuffer(4));

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1)
    throw new InvalidArgumentError(name, 'a positive integer', value);
  return value;
}

/** Moves the view's memory away (a transfer), leaving every view of it detached: length 0. */
function detach(view: Buffer): void {
  structuredClone(view.buffer, { transfer: [view.buffer as ArrayBuffer] });
}
