import type { BufferPool } from '../buffers/index.js';

/** writev takes at most IOV_MAX (1024 on Linux) buffers per call. */
export const IOV_MAX = 1024;

/**
 * The bytes a `BatchWriter` holds, in pooled slabs, oldest first. It only stores: the writer does
 * the accounting (how many bytes are buffered, bounds, what is in flight).
 *
 * Invariants:
 * - the last slab is the tail being filled: its bytes are `[.., tailFill)` and `tailEnd` is its length
 *   (0 before the first slab); every other slab `i` holds bytes up to `#fills[i]`.
 * - the first `#headOffset` bytes of the first slab are written; every byte after them is not.
 * - bytes are only ever added after `tailFill`, so a region handed to the kernel (`collect()`) is
 *   never modified while that write runs.
 *
 * `tail`, `tailFill` and `tailEnd` are plain fields because the writer's hot path (one small write)
 * reads and advances them directly.
 */
export class ChunkQueue {
  tail: Buffer | undefined;
  tailFill = 0;
  tailEnd = 0;

  readonly #pool: BufferPool;
  #slabs: Buffer[] = [];
  #fills: number[] = [];
  #headOffset = 0;

  constructor(pool: BufferPool) {
    this.#pool = pool;
  }

  /** Whether the pool has the slabs `byteLength` more bytes need beyond the tail's room. */
  hasSlabsFor(byteLength: number): boolean {
    const room = this.tailEnd - this.tailFill;
    if (byteLength <= room) return true;
    const slabsNeeded = Math.ceil((byteLength - room) / this.#pool.slabSize);
    const { inUse, maxSlabs } = this.#pool.stats();
    return maxSlabs - inUse >= slabsNeeded;
  }

  /** Seals the tail (its unused end stays unused) and starts a new one; false if the pool is empty. */
  newTail(): boolean {
    const slab = this.#pool.tryAcquire();
    if (slab === undefined) return false;
    const last = this.#slabs.length - 1;
    if (last >= 0) this.#fills[last] = this.tailFill;
    this.#slabs.push(slab);
    this.#fills.push(0);
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

  /** Views of the unwritten bytes from the head: at most `maxBytes` bytes and `IOV_MAX` chunks. */
  collect(maxBytes: number): { chunks: Buffer[]; bytes: number } {
    const chunks: Buffer[] = [];
    const last = this.#slabs.length - 1;
    let bytes = 0;
    for (let index = 0; index <= last && chunks.length < IOV_MAX && bytes < maxBytes; index++) {
      const start = index === 0 ? this.#headOffset : 0;
      const end = index === last ? this.tailFill : this.#fills[index]!;
      if (end <= start) continue;
      const take = Math.min(end - start, maxBytes - bytes);
      chunks.push(this.#slabs[index]!.subarray(start, start + take));
      bytes += take;
    }
    return { chunks, bytes };
  }

  /**
   * The first `bytes` unwritten bytes were written: releases the slabs they emptied. When nothing
   * is left and `mayRewind` (no reservation points into the tail), the tail is filled from its start again.
   */
  consume(bytes: number, mayRewind: boolean): void {
    let remaining = bytes;
    while (this.#slabs.length > 1) {
      const available = this.#fills[0]! - this.#headOffset;
      if (remaining < available) break;
      remaining -= available;
      this.#pool.release(this.#slabs.shift()!);
      this.#fills.shift();
      this.#headOffset = 0;
    }
    this.#headOffset += remaining;
    if (mayRewind && this.#slabs.length === 1 && this.#headOffset === this.tailFill) {
      this.#headOffset = 0;
      this.tailFill = 0;
    }
  }

  /** Returns every slab to the pool; the queue is empty again. */
  releaseAll(): void {
    for (const slab of this.#slabs) this.#pool.release(slab);
    this.#slabs = [];
    this.#fills = [];
    this.tail = undefined;
    this.tailFill = 0;
    this.tailEnd = 0;
    this.#headOffset = 0;
  }
}
