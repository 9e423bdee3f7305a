/**
 * The `threadpool` strategy: positional reads (`pread(2)` through `fs.read`) of the next windows,
 * several in flight on libuv's threadpool, each into its own pooled slab.
 *
 * Invariants:
 * - `#pending` holds the reads in flight or done but not yet handed out, in file order; each owns
 *   its slab. `#held` is the slab the consumer holds; no read ever targets it.
 * - a slab is reused for a new read only after the consumer asked for the next window (which ends
 *   the previous window's validity), so a window is never overwritten while held.
 * - the fd is never closed here; `stop()` resolves only when no read is in flight on it.
 */
import type { BufferPool } from '../../buffers/index.js';
import { FileGrewError, FileShrankError } from '../../errors.js';
import { read } from '../fs-async.js';
import { readPopulated } from '../native.js';
import { fromOsError } from '../os-errors.js';
import { load } from '../planner.js';
import type { SourceJob, WindowSource } from '../types.js';
import { InFlightCap } from './in-flight-cap.js';

/**
 * Where growth probes land: not a pool slab (a reader on an exhausted pool must still be able to
 * finish). Shared by all readers; what it holds is never looked at, only how many bytes came.
 */
const GROWTH_PROBE = Buffer.alloc(1);

interface PendingRead {
  slab: Buffer;
  /** Settles with the bytes read or the error: never rejects, so no read goes unhandled. */
  done: Promise<number | Error>;
  /** Set when `done` has settled. */
  finished: boolean;
}

export class ThreadpoolSource implements WindowSource {
  readonly #job: SourceJob;
  readonly #pool: BufferPool;
  #pending: PendingRead[] = [];
  /** The read `next()` is waiting for: out of `#pending`, not yet handed out. */
  #awaiting: PendingRead | undefined;
  #held: Buffer | undefined;
  /** File offset of the first byte not yet requested from the kernel. */
  #nextOffset: number;
  #inFlight = 0;
  /** Reads allowed in flight at once, adapted to the consumer's pace. */
  readonly #inFlightCap: InFlightCap;
  #idle: (() => void) | undefined;
  #stopped = false;

  constructor(job: SourceJob) {
    this.#job = job;
    this.#pool = job.pool;
    this.#nextOffset = job.start;
    this.#inFlightCap = new InFlightCap(job.readAhead);
  }

  async next(): Promise<Buffer | null> {
    if (this.#stopped) return null;
    const previous = this.#held;
    this.#held = undefined;
    if (previous !== undefined) {
      // Reuse the window for the next read, unless: the range is done; debug (release detaches and
      // poisons it); or it is someone else's turn (fair turns: release hands it to the oldest
      // waiter, and the acquire below queues this reader behind them).
      const yieldTurn = this.#job.fairTurns && this.#pool.waiting > 0;
      const reuse =
        this.#nextOffset < this.#job.endExclusive &&
        !this.#pool.debug &&
        !yieldTurn &&
        this.#inFlight < this.#inFlightCap.value;
      if (reuse) this.#issue(previous);
      else this.#pool.release(previous);
    }
    if (this.#pending.length === 0) {
      if (this.#nextOffset >= this.#job.endExclusive) {
        if (this.#job.checkGrowth) await this.#checkGrowth();
        return null;
      }
      this.#issue(this.#pool.tryAcquire() ?? (await this.#pool.acquire(this.#job.signal)));
    }
    this.#topUp();
    const head = this.#pending.shift()!;
    this.#awaiting = head;
    this.#inFlightCap.onWindowTaken(head.finished);
    const outcome = await head.done;
    // stop() ran meanwhile: it released this read's slab; the reader reports why it stopped.
    if (this.#stopped) return null;
    this.#awaiting = undefined;
    if (outcome instanceof Error) {
      this.#pool.release(head.slab);
      throw outcome;
    }
    this.#held = head.slab;
    return head.slab.subarray(0, outcome);
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    for (const pending of this.#pending) this.#pool.release(pending.slab);
    this.#pending = [];
    if (this.#awaiting !== undefined) this.#pool.release(this.#awaiting.slab);
    this.#awaiting = undefined;
    if (this.#held !== undefined) this.#pool.release(this.#held);
    this.#held = undefined;
  }

  /** Read ahead with slabs that are free right now; never wait for more than the first. */
  #topUp(): void {
    while (
      this.#pending.length < this.#job.readAhead &&
      this.#inFlight < this.#inFlightCap.value &&
      this.#nextOffset < this.#job.endExclusive
    ) {
      const slab = this.#pool.tryAcquire();
      if (slab === undefined) return;
      this.#issue(slab);
    }
  }

  #issue(slab: Buffer): void {
    const position = this.#nextOffset;
    const length = Math.min(this.#job.windowSize, this.#job.endExclusive - position);
    this.#nextOffset += length;
    const read: PendingRead = { slab, done: undefined!, finished: false };
    read.done = this.#fill(read, position, length);
    this.#pending.push(read);
  }

  /** Fills `pending.slab[0, length)` from `position`, repeating short reads; 0 bytes early means the file shrank. */
  async #fill(pending: PendingRead, position: number, length: number): Promise<number | Error> {
    const { slab } = pending;
    this.#inFlight++;
    load.threadpoolReadsInFlight++;
    try {
      let filled = 0;
      // A slab's first fill maps its new pages in one call when the native addon is built
      // (`native.ts`); later reads find them mapped. In the lab, 2-4% off a cold reader or archive.
      const readInto = readPopulated !== undefined && this.#pool.firstFill(slab) ? readPopulated : read;
      while (filled < length && !this.#stopped) {
        const bytes = await readInto(this.#job.fd, slab, filled, length - filled, position + filled);
        if (bytes === 0)
          return new FileShrankError(this.#job.path, this.#job.endExclusive, position + filled);
        filled += bytes;
      }
      return filled;
    } catch (error) {
      return fromOsError(this.#job.path, error);
    } finally {
      pending.finished = true;
      this.#inFlight--;
      load.threadpoolReadsInFlight--;
      if (this.#inFlight === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }

  /** One byte past the end we were told: if the kernel has it, the file grew while we read. */
  async #checkGrowth(): Promise<void> {
    const outcome = await this.#probe();
    if (outcome instanceof Error) throw outcome;
    if (outcome > 0) throw new FileGrewError(this.#job.path, this.#job.endExclusive);
  }

  async #probe(): Promise<number | Error> {
    this.#inFlight++;
    try {
      return await read(this.#job.fd, GROWTH_PROBE, 0, 1, this.#job.endExclusive);
    } catch (error) {
      return fromOsError(this.#job.path, error);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#idle !== undefined) {
        this.#idle();
        this.#idle = undefined;
      }
    }
  }
}
