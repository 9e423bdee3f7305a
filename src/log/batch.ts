/**
 * Batch assembly: collects byte ranges into an iovec list under a byte bound, merging ranges that
 * are adjacent in the same memory into one iovec. The log's writer thread uses it to turn the ring's
 * records into one `writev`; it is the piece meant to be shared with sluice/write's BatchWriter
 * (which collects caller chunks the same way before its own `writev`).
 *
 * Policy: a batch always accepts its first range, however large (the caller bounds record sizes);
 * after that, `add` refuses a range that would take the batch past `maxBytes`, or that would need an
 * iovec beyond IOV_MAX.
 */
/** writev takes at most IOV_MAX (1024 on Linux) buffers per call. */
export const IOV_MAX = 1024;

export class BatchAssembler {
  readonly maxBytes: number;
  #iovecs: Uint8Array[] = [];
  #bytes = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get isEmpty(): boolean {
    return this.#bytes === 0;
  }

  /** Whether `length` more bytes would still fit. */
  fits(length: number): boolean {
    return this.#bytes === 0 || this.#bytes + length <= this.maxBytes;
  }

  /** Adds `range` when it fits (see the policy above); returns whether it was added. */
  add(range: Uint8Array): boolean {
    if (!this.fits(range.length)) return false;
    if (range.length === 0) return true;
    const last = this.#iovecs[this.#iovecs.length - 1];
    const adjacent =
      last !== undefined &&
      last.buffer === range.buffer &&
      last.byteOffset + last.byteLength === range.byteOffset;
    if (!adjacent && this.#iovecs.length >= IOV_MAX) return false;
    if (adjacent) {
      this.#iovecs[this.#iovecs.length - 1] = new Uint8Array(
        last.buffer,
        last.byteOffset,
        last.byteLength + range.byteLength,
      );
    } else {
      this.#iovecs.push(range);
    }
    this.#bytes += range.length;
    return true;
  }

  /** Hands over the iovecs and starts an empty batch. */
  take(): Uint8Array[] {
    const iovecs = this.#iovecs;
    this.#iovecs = [];
    this.#bytes = 0;
    return iovecs;
  }
}

/** Writes all of `iovecs` at `position` with `writev`, continuing after short writes. */
export function writevFully(
  writev: (iovecs: Uint8Array[], position: number) => number,
  iovecs: readonly Uint8Array[],
  position: number,
): number {
  let pending = iovecs.filter((iovec) => iovec.length > 0);
  let written = 0;
  while (pending.length > 0) {
    let count = writev(pending, position + written);
    if (count <= 0) throw new Error(`writev wrote ${count} bytes of ${pending.length} pending iovecs`);
    written += count;
    const rest: Uint8Array[] = [];
    for (const iovec of pending) {
      if (count >= iovec.length) {
        count -= iovec.length;
      } else {
        rest.push(count === 0 ? iovec : iovec.subarray(count));
        count = 0;
      }
    }
    pending = rest;
  }
  return written;
}
