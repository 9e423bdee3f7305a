/**
 * Write coalescing for one socket: everything written in the same turn of the event loop leaves in
 * one `writev` (one syscall), instead of one `write` per frame.
 *
 * Small writes are copied into a staging slab; a write of `copyLimit` bytes or more is queued by
 * reference, so a batch is a handful of iovecs however many frames it holds (libuv caps one
 * `writev` at IOV_MAX = 1024 iovecs). A batch is flushed
 *  - at the end of the current turn (`process.nextTick`, or `setImmediate` with
 *    `scheduling: 'immediate'`; docs/net.md has the measurement behind the default),
 *  - at once when it reaches `flushBytes` (so a burst never waits for the turn to end), and
 *  - never while the socket wants `'drain'`: the batch keeps growing until the socket drains, then
 *    leaves in one write.
 *
 * The interface (`write`, `reserve`/`commit`, `flush`, `needsDrain`, `onDrain`) mirrors
 * `BatchWriter` of sluice/write, so that the transport can run on it once both have landed.
 */
import type { Socket } from 'node:net';

export type FlushScheduling = 'tick' | 'immediate';

export interface CoalescerOptions {
  /** Flush as soon as this many bytes are queued. Default 64 KiB (cassandra-driver's threshold). */
  flushBytes?: number;
  /** Writes this large or larger are queued by reference instead of copied. Default 1 KiB. */
  copyLimit?: number;
  /** `write` returns false past this many bytes queued here plus in the socket. Default 1 MiB. */
  highWaterMark?: number;
  scheduling?: FlushScheduling;
  /** Called when the writer had returned false (or the socket wanted drain) and is empty again. */
  onDrain?: () => void;
}

export interface CoalescerStats {
  /** `write`/`commit` calls. */
  writes: number;
  /** Batches handed to the socket: each is one write or writev syscall when the socket is ready. */
  batches: number;
  bytes: number;
}

/** A new slab once the current one has less than this left. */
const MIN_SLAB_REMAINDER = 512;
/** Idle slabs kept for reuse; more are left to the GC. */
const MAX_FREE_SLABS = 4;

/**
 * A staging buffer and the queued or in-flight writes reading from it. It is reused only once it
 * is retired (no longer the one being filled) and every write from it has completed: allocating a
 * fresh 64 KiB slab per batch would cost external-memory GC pressure at every turn.
 */
class Slab {
  readonly buffer: Buffer;
  /** Sealed views of it that are queued or being written. */
  views = 0;
  retired = false;
  readonly #owner: Coalescer;
  /** One function per slab (not per write) for the socket's write callbacks. */
  readonly release = (): void => {
    this.views--;
    if (this.retired && this.views === 0) this.#owner.recycle(this);
  };

  constructor(size: number, owner: Coalescer) {
    this.buffer = Buffer.allocUnsafeSlow(size);
    this.#owner = owner;
  }
}

export class Coalescer {
  readonly #socket: Socket;
  readonly #flushBytes: number;
  readonly #copyLimit: number;
  readonly #highWaterMark: number;
  readonly #slabSize: number;
  readonly #scheduling: FlushScheduling;
  readonly #onDrain: (() => void) | undefined;
  /** Sealed pieces, in order: views of slabs or buffers queued by reference. */
  readonly #chunks: Buffer[] = [];
  /** For each of #chunks, the slab it is a view of (undefined: queued by reference). */
  readonly #chunkSlabs: (Slab | undefined)[] = [];
  /** The staging slab; bytes [#slabStart, #slabEnd) are queued but not yet sealed into #chunks. */
  #slab: Slab | undefined;
  readonly #freeSlabs: Slab[] = [];
  #slabStart = 0;
  #slabEnd = 0;
  #queuedBytes = 0;
  #scheduled = false;
  #waitingForDrain = false;
  #wantDrainEvent = false;
  #closed = false;
  readonly stats: CoalescerStats = { writes: 0, batches: 0, bytes: 0 };

  constructor(socket: Socket, options: CoalescerOptions = {}) {
    this.#socket = socket;
    this.#flushBytes = options.flushBytes ?? 64 * 1024;
    this.#copyLimit = options.copyLimit ?? 1024;
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.#slabSize = Math.max(this.#flushBytes, 16 * 1024);
    this.#scheduling = options.scheduling ?? 'tick';
    this.#onDrain = options.onDrain;
    socket.on('drain', this.#handleSocketDrain);
  }

  /** Bytes queued here, not yet handed to the socket. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Whether the caller should wait for `onDrain` before writing more. */
  get needsDrain(): boolean {
    return this.#queuedBytes + this.#socket.writableLength >= this.#highWaterMark;
  }

  /** Queues `bytes`; returns false past the high-water mark (the bytes are queued all the same). */
  write(bytes: Uint8Array): boolean {
    this.stats.writes++;
    if (bytes.length >= this.#copyLimit) {
      this.#seal();
      this.#chunks.push(
        Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length),
      );
      this.#chunkSlabs.push(undefined);
      this.#queuedBytes += bytes.length;
    } else {
      const target = this.reserve(bytes.length);
      target.set(bytes);
      this.#slabEnd += bytes.length;
      this.#queuedBytes += bytes.length;
    }
    return this.#afterWrite();
  }

  /**
   * Returns a buffer of at least `size` writable bytes in the staging slab; `commit(n)` queues its
   * first `n`. Nothing else may be written between the two calls.
   */
  reserve(size: number): Buffer {
    const offset = this.reserveInSlab(size);
    return this.#slab!.buffer.subarray(offset);
  }

  /**
   * `reserve` without creating a view: makes room for `size` bytes in `slab` and returns where
   * they start; `commit(n)` queues them.
   */
  reserveInSlab(size: number): number {
    const slab = this.#slab;
    if (slab === undefined || slab.buffer.length - this.#slabEnd < size) {
      this.#seal();
      this.#retireSlab();
      this.#slab =
        size <= this.#slabSize
          ? (this.#freeSlabs.pop() ?? new Slab(this.#slabSize, this))
          : new Slab(size, this);
      this.#slabStart = 0;
      this.#slabEnd = 0;
    }
    return this.#slabEnd;
  }

  /** The staging slab that `reserveInSlab` offsets point into. */
  get slab(): Buffer {
    return this.#slab!.buffer;
  }

  /** Called by a retired slab once its last write has completed. */
  recycle(slab: Slab): void {
    if (this.#closed || slab.buffer.length !== this.#slabSize || this.#freeSlabs.length >= MAX_FREE_SLABS)
      return;
    slab.retired = false;
    this.#freeSlabs.push(slab);
  }

  #retireSlab(): void {
    const slab = this.#slab;
    if (slab === undefined) return;
    this.#slab = undefined;
    slab.retired = true;
    if (slab.views === 0) this.recycle(slab);
  }

  commit(written: number): boolean {
    this.stats.writes++;
    this.#slabEnd += written;
    this.#queuedBytes += written;
    return this.#afterWrite();
  }

  /** Hands everything queued to the socket now, in one write or writev (unless it wants drain). */
  flush(): void {
    if (this.#closed || this.#waitingForDrain || this.#queuedBytes === 0) return;
    this.#seal();
    const chunks = this.#chunks;
    const chunkSlabs = this.#chunkSlabs;
    this.stats.batches++;
    this.stats.bytes += this.#queuedBytes;
    this.#queuedBytes = 0;
    const socket = this.#socket;
    const count = chunks.length;
    // Corked writes reach Socket#_writev together: one uv_write with every buffer, one writev.
    if (count > 1) socket.cork();
    for (let index = 0; index < count; index++) {
      const slab = chunkSlabs[index];
      if (slab === undefined) socket.write(chunks[index]!);
      else socket.write(chunks[index]!, slab.release);
    }
    if (count > 1) socket.uncork();
    chunks.length = 0;
    chunkSlabs.length = 0;
    if (socket.writableNeedDrain) {
      this.#waitingForDrain = true;
      this.#wantDrainEvent = true;
    }
    const slab = this.#slab;
    if (slab !== undefined && slab.buffer.length - this.#slabEnd < MIN_SLAB_REMAINDER) this.#retireSlab();
  }

  /** Drops whatever is queued (the socket is gone) and ignores later writes. */
  close(): void {
    this.#closed = true;
    this.#chunks.length = 0;
    this.#chunkSlabs.length = 0;
    this.#slab = undefined;
    this.#freeSlabs.length = 0;
    this.#queuedBytes = 0;
    this.#socket.off('drain', this.#handleSocketDrain);
  }

  #afterWrite(): boolean {
    if (this.#queuedBytes >= this.#flushBytes) this.flush();
    else if (!this.#scheduled && !this.#waitingForDrain) {
      this.#scheduled = true;
      if (this.#scheduling === 'tick') process.nextTick(this.#scheduledFlush);
      else setImmediate(this.#scheduledFlush);
    }
    if (this.needsDrain) {
      this.#wantDrainEvent = true;
      return false;
    }
    return true;
  }

  /** Moves the slab's unsealed bytes into #chunks; the sealed region is never written again. */
  #seal(): void {
    if (this.#slab !== undefined && this.#slabEnd > this.#slabStart) {
      this.#chunks.push(this.#slab.buffer.subarray(this.#slabStart, this.#slabEnd));
      this.#chunkSlabs.push(this.#slab);
      this.#slab.views++;
      this.#slabStart = this.#slabEnd;
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  readonly #handleSocketDrain = (): void => {
    this.#waitingForDrain = false;
    this.flush();
    if (this.#wantDrainEvent && !this.#waitingForDrain && !this.needsDrain) {
      this.#wantDrainEvent = false;
      this.#onDrain?.();
    }
  };
}
