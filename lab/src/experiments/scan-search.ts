/**
 * The search every `scan` variant runs: count the occurrences of a needle in a stream of windows
 * with `Buffer.indexOf`, including occurrences split across two windows. Shared by all variants so
 * they do the same work per byte.
 */
export class NeedleSearch {
  readonly needle: Buffer;
  /** Occurrences found so far. */
  matches = 0;
  /** The last `needle.length - 1` bytes of the stream so far (copied: windows are reused). */
  readonly #tail: Buffer;
  #tailLength = 0;
  readonly #boundary: Buffer;

  constructor(needle: string | Buffer) {
    this.needle = Buffer.from(needle);
    if (this.needle.length === 0) throw new Error('the needle must not be empty');
    this.#tail = Buffer.alloc(this.needle.length - 1);
    this.#boundary = Buffer.alloc(2 * (this.needle.length - 1));
  }

  /** Starts a new stream (a new file or range): no match spans two files. */
  begin(): void {
    this.#tailLength = 0;
  }

  feed(window: Uint8Array): void {
    const needle = this.needle;
    const keep = needle.length - 1;
    if (keep > 0 && this.#tailLength > 0) {
      // Any occurrence in tail + head crosses the seam: neither part alone is long enough.
      const head = Math.min(keep, window.length);
      this.#tail.copy(this.#boundary, 0, 0, this.#tailLength);
      this.#boundary.set(window.subarray(0, head), this.#tailLength);
      const seam = this.#boundary.subarray(0, this.#tailLength + head);
      for (let at = seam.indexOf(needle); at !== -1; at = seam.indexOf(needle, at + 1)) this.matches++;
    }
    const bytes = Buffer.isBuffer(window)
      ? window
      : Buffer.from(window.buffer, window.byteOffset, window.length);
    for (let at = bytes.indexOf(needle); at !== -1; at = bytes.indexOf(needle, at + 1)) this.matches++;
    if (keep === 0) return;
    if (window.length >= keep) {
      this.#tail.set(window.subarray(window.length - keep));
      this.#tailLength = keep;
    } else {
      // a short window: slide it into the tail
      const kept = Math.min(this.#tailLength, keep - window.length);
      this.#tail.copy(this.#tail, 0, this.#tailLength - kept, this.#tailLength);
      this.#tail.set(window, kept);
      this.#tailLength = kept + window.length;
    }
  }
}
