import {
  AbortError,
  DoubleReleaseError,
  ForeignBufferError,
  InvalidArgumentError,
  PoolClosedError,
} from '../errors.js';
import { debugEnabled } from '../internal/debug.js';
import { Fifo } from '../internal/fifo.js';

export interface BufferPoolOptions {
  /** Bytes per slab. Every buffer the pool hands out has exactly this length. */
  slabSize: number;
  /** The bound: at most this many slabs exist at once (allocated lazily, kept for reuse). */
  maxSlabs: number;
  /** Shown in errors and stats. */
  name?: string;
  /**
   * Detect misuse: a released slab's memory moves to a fresh ArrayBuffer (zero-copy transfer), so
   * every view the releaser still holds is detached (length 0, reads throw), and the moved memory is
   * poisoned with 0xDE until it is acquired again. Defaults to `SLUICE_DEBUG=1`.
   */
  debug?: boolean;
}

export interface BufferPoolStats {
  name: string;
  slabSize: number;
  maxSlabs: number;
  /** Slabs that exist (in use + free). */
  allocated: number;
  inUse: number;
  free: number;
  /** Callers blocked in `acquireAsync`. */
  waiting: number;
  peakInUse: number;
  acquires: number;
  releases: number;
}

/** 0xDE, the poison byte of released slabs under debug. */
export const POISON_BYTE = 0xde;

interface Waiter {
  resolve(slab: Buffer): void;
  reject(error: unknown): void;
}

/**
 * A bounded pool of fixed-size buffers ("slabs").
 *
 * Invariants:
 * - `inUse + free === allocated <= maxSlabs`; a slab is allocated only when none is free.
 * - each slab has an ArrayBuffer of its own (`Buffer.allocUnsafeSlow`), so a view's `.buffer`
 *   identifies its slab: `release()` accepts the slab or any view into it (e.g. a window's subarray).
 * - waiters are served first-in first-out; a released slab goes straight to the oldest waiter.
 * - a slab is in exactly one of: the free stack, a caller's hands. Releasing a free slab is an error.
 */
export class BufferPool {
  readonly slabSize: number;
  readonly maxSlabs: number;
  readonly name: string;
  readonly debug: boolean;

  /** Every existing slab, found by its ArrayBuffer (a window's `.buffer`). */
  #slabs = new Map<ArrayBufferLike, Slab>();
  #free: Slab[] = [];
  #waiters = new Fifo<Waiter>();
  #nextId = 0;
  #inUseCount = 0;
  #peakInUse = 0;
  #acquires = 0;
  #releases = 0;
  #closed = false;

  constructor(options: BufferPoolOptions) {
    const { slabSize, maxSlabs } = options;
    if (!Number.isSafeInteger(slabSize) || slabSize < 1) {
      throw new InvalidArgumentError('slabSize', 'a positive integer', slabSize);
    }
    if (!Number.isSafeInteger(maxSlabs) || maxSlabs < 1) {
      throw new InvalidArgumentError('maxSlabs', 'a positive integer', maxSlabs);
    }
    this.slabSize = slabSize;
    this.maxSlabs = maxSlabs;
    this.name = options.name ?? `pool-${slabSize}`;
    this.debug = options.debug ?? debugEnabled();
  }

  /** Takes a free slab, or allocates one under the bound; `undefined` when all `maxSlabs` are in use. */
  tryAcquire(): Buffer | undefined {
    if (this.#closed) throw new PoolClosedError(this.name);
    let slab = this.#free.pop();
    if (slab === undefined) {
      if (this.#slabs.size >= this.maxSlabs) return undefined;
      slab = {
        id: this.#nextId++,
        bytes: Buffer.allocUnsafeSlow(this.slabSize),
        inUse: false,
        filled: false,
      };
      this.#slabs.set(slab.bytes.buffer, slab);
    }
    return this.#handOut(slab);
  }

  /**
   * Takes a slab, waiting (first come, first served) while all are in use. Rejects with
   * `SLUICE_ERR_ABORTED` when `signal` aborts and `SLUICE_ERR_POOL_CLOSED` when the pool closes.
   */
  acquire(signal?: AbortSignal): Promise<Buffer> {
    try {
      const slab = this.tryAcquire();
      if (slab !== undefined) return Promise.resolve(slab);
    } catch (error) {
      return Promise.reject(error);
    }
    if (signal?.aborted) {
      return Promise.reject(new AbortError(`acquiring from pool "${this.name}"`, signal.reason));
    }
    return new Promise<Buffer>((resolve, reject) => {
      const onAbort = (): void => {
        this.#waiters.remove(waiter);
        reject(new AbortError(`acquiring from pool "${this.name}"`, signal?.reason));
      };
      const waiter: Waiter = {
        resolve: (slab) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(slab);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Returns a slab (or any view into one) to the pool. */
  release(buffer: Uint8Array): void {
    const slab = this.#slabs.get(buffer.buffer);
    if (slab === undefined) throw new ForeignBufferError(this.name);
    if (!slab.inUse) throw new DoubleReleaseError(this.name, slab.id);
    slab.inUse = false;
    this.#inUseCount--;
    this.#releases++;
    if (this.debug) this.#poison(slab);
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) {
      waiter.resolve(this.#handOut(slab));
    } else if (this.#closed) {
      this.#slabs.delete(slab.bytes.buffer);
      freeNow([slab.bytes.buffer as ArrayBuffer]);
    } else {
      this.#free.push(slab);
    }
  }

  /**
   * True the first time it is asked about a slab (or a view into one) since the slab was allocated,
   * false ever after and for buffers not from this pool. A reader about to fill a slab asks: on a
   * first fill the slab's pages are new, and mapping them in one call costs about half of faulting
   * them in during the copy (sluice/file's threadpool reads, `src/file/native.ts`).
   */
  firstFill(buffer: Uint8Array): boolean {
    const slab = this.#slabs.get(buffer.buffer);
    if (slab === undefined || slab.filled) return false;
    slab.filled = true;
    return true;
  }

  /** True while `buffer` (a slab or a view into one) is held by a caller. */
  isAcquired(buffer: Uint8Array): boolean {
    return this.#slabs.get(buffer.buffer)?.inUse === true;
  }

  /**
   * Frees the memory of slabs nobody holds beyond the `keep` most recently released, now rather than
   * at V8's next collection (an idle process may not collect for a long time); they are allocated
   * again on demand.
   */
  trim(keep = 0): void {
    if (!Number.isSafeInteger(keep) || keep < 0)
      throw new InvalidArgumentError('keep', 'an integer >= 0', keep);
    if (this.#free.length <= keep) return;
    const freed = this.#free.splice(0, this.#free.length - keep);
    for (const slab of freed) this.#slabs.delete(slab.bytes.buffer);
    freeNow(freed.map((slab) => slab.bytes.buffer as ArrayBuffer));
  }

  /** Rejects every waiter and frees free slabs; slabs still held are freed when released. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const waiter of this.#waiters.drain()) waiter.reject(new PoolClosedError(this.name));
    this.trim();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Callers blocked in `acquire` right now (the same figure as `stats().waiting`, without building
   * the stats object): a holder that reuses one slab for many turns checks it between turns and
   * gives the slab back when someone waits (sluice/file readers with `fairTurns`).
   */
  get waiting(): number {
    return this.#waiters.length;
  }

  stats(): BufferPoolStats {
    return {
      name: this.name,
      slabSize: this.slabSize,
      maxSlabs: this.maxSlabs,
      allocated: this.#slabs.size,
      inUse: this.#inUseCount,
      free: this.#free.length,
      waiting: this.#waiters.length,
      peakInUse: this.#peakInUse,
      acquires: this.#acquires,
      releases: this.#releases,
    };
  }

  #handOut(slab: Slab): Buffer {
    slab.inUse = true;
    this.#inUseCount++;
    this.#acquires++;
    if (this.#inUseCount > this.#peakInUse) this.#peakInUse = this.#inUseCount;
    return slab.bytes;
  }

  /**
   * Debug only: move the slab's memory to a fresh ArrayBuffer (a transfer, not a copy), which
   * detaches every view the releaser kept, then fill it with the poison byte.
   */
  #poison(slab: Slab): void {
    const old = slab.bytes.buffer as ArrayBuffer;
    const moved = structuredClone(old, { transfer: [old] });
    this.#slabs.delete(old);
    slab.bytes = Buffer.from(moved, 0, this.slabSize);
    slab.bytes.fill(POISON_BYTE);
    this.#slabs.set(moved, slab);
  }
}

/**
 * Gives the memory of `buffers` (which nobody may use again: every view of them is detached) back
 * to the allocator at once. Dropping the last reference frees an ArrayBuffer only when V8 next
 * collects, and a server gone idle after a burst does not allocate, so does not collect: its trimmed
 * slabs would stay resident (32 MiB with the default HTTP budget). `ArrayBuffer.prototype.transfer(0)`
 * (ES2024, Node 21+) detaches and frees; on Node 20, moving the buffers into a message on a
 * MessageChannel and closing both ports does the same (the undelivered message and its buffers are
 * destroyed with the channel, within a turn of the event loop).
 */
function freeNow(buffers: ArrayBuffer[]): void {
  if (buffers.length === 0) return;
  const transfer = (ArrayBuffer.prototype as { transfer?: (length: number) => ArrayBuffer }).transfer;
  if (typeof transfer === 'function') {
    for (const buffer of buffers) transfer.call(buffer, 0);
    return;
  }
  const { port1, port2 } = new MessageChannel();
  port1.postMessage(null, buffers);
  port1.close();
  port2.close();
}

interface Slab {
  readonly id: number;
  bytes: Buffer;
  inUse: boolean;
  /** Set once `firstFill()` was asked about it: it has been filled since it was allocated. */
  filled: boolean;
}
