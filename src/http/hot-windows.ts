/**
 * A bounded in-memory cache of the windows of hot files, so that a file many clients download at
 * once is read once instead of once per client (Apache's mod_file_cache keeps chosen files in
 * memory for the same reason).
 *
 * Why it pays: nginx hands the page cache to the socket with `sendfile(2)`; Node has no sendfile
 * for sockets, so every byte sluice sends is copied twice in the server, `pread` into a window and
 * `write` into the socket. Profiled under the lab's 50 keep-alive clients of a 2 MiB file, the
 * `pread` copies were 21% of the server's CPU and the threadpool hand-offs around them another 7%;
 * a cached window costs neither (and no open, fstat or close).
 *
 * Invariants:
 * - cached windows are immutable copies, never pool slabs: many responses may write the same one
 *   at once (`res.write` keeps a reference, it does not copy), and evicting one only drops the
 *   cache's reference;
 * - `bytes <= maxBytes` after every `put` (least recently used windows go first);
 * - a window is cached only whole: `windowSize` bytes, or the file's last window; a file is keyed
 *   by device, inode, size and mtime, so a file that changed is a different file (like the ETag,
 *   a rewrite keeping size and mtime within the clock's tick is not seen);
 * - admission: a file's windows are kept from its second request among the last
 *   `ADMISSION_HISTORY` files requested, and only when it is at most half the cache, so one-off
 *   downloads of large files never flush the hot ones (nor pay a copy to be cached).
 */

/** Distinct files remembered for admission (most recent requests). */
const ADMISSION_HISTORY = 1024;

export interface HotWindowsStats {
  maxBytes: number;
  bytes: number;
  windows: number;
  hits: number;
  misses: number;
}

export class HotWindows {
  readonly maxBytes: number;
  /** Window bytes held. */
  #bytes = 0;
  /** `${fileKey}#${index}` -> window, least recently used first (Map keeps insertion order). */
  readonly #windows = new Map<string, Buffer>();
  /** fileKey -> requests seen, least recently requested first; at most ADMISSION_HISTORY entries. */
  readonly #requests = new Map<string, number>();
  #hits = 0;
  #misses = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** Counts a request for a file of `size` bytes; true when its windows are to be cached. */
  admit(fileKey: string, size: number): boolean {
    if (this.maxBytes === 0 || size > this.maxBytes / 2) return false;
    const seen = (this.#requests.get(fileKey) ?? 0) + 1;
    this.#requests.delete(fileKey);
    this.#requests.set(fileKey, seen);
    if (this.#requests.size > ADMISSION_HISTORY) {
      this.#requests.delete(this.#requests.keys().next().value as string);
    }
    return seen >= 2;
  }

  /** The cached window `index` of the file, or undefined (counted as a hit or a miss). */
  get(fileKey: string, index: number): Buffer | undefined {
    const key = `${fileKey}#${index}`;
    const window = this.#windows.get(key);
    if (window === undefined) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#windows.delete(key);
    this.#windows.set(key, window);
    return window;
  }

  /** Keeps a copy of `bytes` as window `index` of the file. */
  put(fileKey: string, index: number, bytes: Uint8Array): void {
    const key = `${fileKey}#${index}`;
    const previous = this.#windows.get(key);
    if (previous !== undefined) {
      this.#windows.delete(key);
      this.#bytes -= previous.length;
    }
    if (bytes.length > this.maxBytes) return;
    const copy = Buffer.allocUnsafeSlow(bytes.length);
    copy.set(bytes);
    this.#windows.set(key, copy);
    this.#bytes += copy.length;
    for (const [oldest, window] of this.#windows) {
      if (this.#bytes <= this.maxBytes) break;
      this.#windows.delete(oldest);
      this.#bytes -= window.length;
    }
  }

  /** Drops every window (memory back at the next collection of the responses still writing them). */
  clear(): void {
    this.#windows.clear();
    this.#bytes = 0;
  }

  stats(): HotWindowsStats {
    return {
      maxBytes: this.maxBytes,
      bytes: this.#bytes,
      windows: this.#windows.size,
      hits: this.#hits,
      misses: this.#misses,
    };
  }
}

/** The cache key of a file as `stat` saw it: the same file, unchanged. */
export function fileKeyOf(stats: { dev: number; ino: number; size: number; mtimeMs: number }): string {
  return `${stats.dev}:${stats.ino}:${stats.size}:${stats.mtimeMs}`;
}
