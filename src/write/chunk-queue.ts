import { Buffer } from 'node:buffer';
import type { BufferPool } from '../buffers/index.js';

/** writev takes at most IOV_MAX (1024 on Linux) buffers per call; libuv caps one call there too. */
export const IOV_MAX = 1024;

/**
 * The bytes waiting to be written, in order, as a list of memory ranges ("entries"): copies in
 * pooled slabs, and caller buffers queued by reference (no copy). It is the one iovec assembly of
 * sluice: `BatchWriter` (files, sockets, so sluice/net's transport) and the log's writer thread
 * (ring spans) both build their `writev` batches here, and both advance after a partial write with
 * `consume`. It only stores; the owner does the accounting (bytes buffered, bounds, in flight).
 *
 * An entry is `[start, end)` of an ArrayBuffer (absolute byte offsets), so two references to
 * adjacent memory (a record's ring spans, consecutive records) merge into one iovec.
 *
 * Invariants:
 * - entries `[#head, length)` are the unwritten bytes, oldest first; the first `#starts[#head]` is
 *   advanced as bytes are written.
 * - when `tail` is defined, the last entry is the tail slab being filled: its end is
 *   `tail.byteOffset + tailFill`, not `#ends[last]`, and `tailEnd` is the tail's length.
 * - a pooled slab may appear in several entries (a reference splits it); only the last of them owns
 *   it (`#owners`) and releases it to the pool once consumed, so a slab is never reused while an
 *   earlier range of it is queued or being written.
 * - bytes are only ever added after `tailFill` or as new entries, so a range handed to the kernel
 *   (`collect()`) is never modified while that write runs.
 *
 * `tail`, `tailFill` and `tailEnd` are plain fields because the writer's hot path (one small write)
 * reads and advances them directly.
 */
export class ChunkQueue {
  tail: Buffer | undefined;
  tailFill = 0;
  tailEnd = 0;
  /** Slabs taken from the pool since the queue was made (the writer frees idle ones by it). */
  slabsTaken = 0;

  readonly #pool: BufferPool | undefined;
  #memory: ArrayBufferLike[] = [];
  #starts: number[] = [];
  #ends: number[] = [];
  /** The slab an entry releases once consumed (undefined: a reference, or not the slab's last entry). */
  #owners: (Buffer | undefined)[] = [];
  #head = 0;

  /** `pool`: where slabs for copies come from; without one, the queue holds references only. */
  constructor(pool?: BufferPool) {
    this.#pool = pool;
  }

  /** Whether the pool has the slabs `byteLength` more bytes need beyond the tail's room. */
  hasSlabsFor(byteLength: number): boolean {
    const room = this.tailEnd - this.tailFill;
    if (byteLength <= room) return true;
    const pool = this.#pool;
    if (pool === undefined) return false;
    const slabsNeeded = Math.ceil((byteLength - room) / pool.slabSize);
    const { inUse, maxSlabs } = pool.stats();
    return maxSlabs - inUse >= slabsNeeded;
  }

  /** Seals the tail (its unused end stays unused) and starts a new one; false if the pool is empty. */
  newTail(): boolean {
    const slab = this.#pool?.tryAcquire();
    if (slab === undefined) return false;
    this.slabsTaken++;
    this.#sealTail();
    this.#push(slab.buffer, slab.byteOffset, slab.byteOffset, slab);
    this.tail = slab;
    this.tailFill = 0;
    this.tailEnd = slab.length;
    return true;
  }

  /** Copies `data` after the tail, into new slabs as needed (`hasSlabsFor` said they exist). */
  append(data: Uint8Array): boolean {
    let offset = 0;
    while (offset < data.length) {
      if (this.tailFill === this.tailEnd && !this.newTail()) return false;
      const take = Math.min(data.length - offset, this.tailEnd - this.tailFill);
      this.tail!.set(take === data.length ? data : data.subarray(offset, offset + take), this.tailFill);
      this.tailFill += take;
      offset += take;
    }
    return true;
  }

  /**
   * Queues `data` by reference: it is written from the caller's memory, which must not change until
   * then. Merges with the previous entry when that is a reference ending where `data` starts. The
   * tail keeps its room: small writes after this one go on filling it, behind the reference.
   */
  appendReference(data: Uint8Array): void {
    if (data.length === 0) return;
    const memory = data.buffer;
    const start = data.byteOffset;
    const end = start + data.length;
    const tail = this.tail;
    const last = this.#memory.length - 1;
    if (tail !== undefined) {
      const fillOffset = tail.byteOffset + this.tailFill;
      if (this.#starts[last] === fillOffset) {
        // The tail entry is empty: the reference goes just before it.
        const previous = last - 1;
        if (previous >= this.#head && this.#mergeInto(previous, memory, start, end)) return;
        this.#push(tail.buffer, fillOffset, 0, tail);
        this.#memory[last] = memory;
        this.#starts[last] = start;
        this.#ends[last] = end;
        this.#owners[last] = undefined;
        return;
      }
      // Seal the tail's bytes so far; its owner moves to the entry that continues it.
      this.#ends[last] = fillOffset;
      this.#owners[last] = undefined;
      this.#push(memory, start, end, undefined);
      this.#push(tail.buffer, fillOffset, 0, tail);
      return;
    }
    if (last >= this.#head && this.#mergeInto(last, memory, start, end)) return;
    this.#push(memory, start, end, undefined);
  }

  /** Views of the unwritten bytes from the head: at most `maxBytes` bytes and `IOV_MAX` chunks. */
  collect(maxBytes: number): { chunks: Buffer[]; bytes: number } {
    const chunks: Buffer[] = [];
    const last = this.#memory.length - 1;
    const tailEnd = this.#tailEndOffset();
    let bytes = 0;
    for (let index = this.#head; index <= last && chunks.length < IOV_MAX && bytes < maxBytes; index++) {
      const start = this.#starts[index]!;
      const end = index === last && this.tail !== undefined ? tailEnd : this.#ends[index]!;
      if (end <= start) continue;
      const take = Math.min(end - start, maxBytes - bytes);
      chunks.push(Buffer.from(this.#memory[index]!, start, take));
      bytes += take;
    }
    return { chunks, bytes };
  }

  /**
   * The first `bytes` unwritten bytes were written (a partial write: fewer than collected): drops
   * the entries they covered and releases the slabs they emptied. When nothing is left and
   * `mayRewind` (no reservation points into the tail), the tail is filled from its start again.
   */
  consume(bytes: number, mayRewind: boolean): void {
    let remaining = bytes;
    const last = this.#memory.length - 1;
    let head = this.#head;
    while (head <= last) {
      if (head === last && this.tail !== undefined) break; // the tail stays, however much is written
      const available = this.#ends[head]! - this.#starts[head]!;
      if (remaining < available) break;
      remaining -= available;
      const owner = this.#owners[head];
      if (owner !== undefined) this.#pool!.release(owner);
      this.#memory[head] = EMPTY;
      this.#owners[head] = undefined;
      head++;
    }
    if (head > last) {
      this.#reset();
      return;
    }
    this.#starts[head]! += remaining;
    this.#head = head;
    if (head === last && this.tail !== undefined) {
      if (mayRewind && this.#starts[head] === this.#tailEndOffset()) {
        this.#starts[head] = this.tail.byteOffset;
        this.tailFill = 0;
      }
      if (head > 0) this.#compact();
    } else if (head >= 64 && head * 2 >= this.#memory.length) {
      this.#compact();
    }
  }

  /** Returns every slab to the pool and forgets every reference; the queue is empty again. */
  releaseAll(): void {
    for (let index = this.#head; index < this.#memory.length; index++) {
      const owner = this.#owners[index];
      if (owner !== undefined) this.#pool!.release(owner);
    }
    this.#reset();
  }

  #tailEndOffset(): number {
    return this.tail === undefined ? 0 : this.tail.byteOffset + this.tailFill;
  }

  #sealTail(): void {
    if (this.tail !== undefined) this.#ends[this.#memory.length - 1] = this.#tailEndOffset();
  }

  #push(memory: ArrayBufferLike, start: number, end: number, owner: Buffer | undefined): void {
    this.#memory.push(memory);
    this.#starts.push(start);
    this.#ends.push(end);
    this.#owners.push(owner);
  }

  /**
   * Extends sealed entry `index` by `[start, end)` when that is the memory right after it (the
   * merged range is exactly the two ranges in order); false otherwise. Never called on the tail.
   */
  #mergeInto(index: number, memory: ArrayBufferLike, start: number, end: number): boolean {
    if (this.#memory[index] !== memory || this.#ends[index] !== start) return false;
    this.#ends[index] = end;
    return true;
  }

  /** Drops the consumed entries from the front of the arrays. */
  #compact(): void {
    const head = this.#head;
    this.#memory.splice(0, head);
    this.#starts.splice(0, head);
    this.#ends.splice(0, head);
    this.#owners.splice(0, head);
    this.#head = 0;
  }

  #reset(): void {
    this.#memory.length = 0;
    this.#starts.length = 0;
    this.#ends.length = 0;
    this.#owners.length = 0;
    this.#head = 0;
    this.tail = undefined;
    this.tailFill = 0;
    this.tailEnd = 0;
  }
}

const EMPTY = new ArrayBuffer(0);

/**
 * Writes everything `queue` holds with `writev` on the calling thread, at most IOV_MAX iovecs per
 * call, continuing after partial writes from the first byte not written (`consume`); returns the
 * bytes written. `position` is passed through, advanced by what was written, for positional writes
 * (the log's segments); a `writev` that takes nothing is an error rather than a loop.
 */
export function writeAllSync(
  queue: ChunkQueue,
  writev: (chunks: Buffer[], position: number) => number,
  position: number,
): number {
  let written = 0;
  for (;;) {
    const { chunks, bytes } = queue.collect(Number.POSITIVE_INFINITY);
    if (bytes === 0) return written;
    const count = writev(chunks, position + written);
    if (!(count > 0)) throw new Error(`writev wrote ${count} of ${bytes} bytes`);
    written += count;
    queue.consume(count, true);
  }
}
