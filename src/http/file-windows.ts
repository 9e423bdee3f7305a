/**
 * The windows of a byte range of a file, read through sluice/file's managed reader with the
 * connection budget's pool: each window is a slab of the budget, valid until the next `next()` or
 * `close()`.
 *
 * Invariants:
 * - the file is opened at the first `next()` that is not served from the hot-file cache (when its
 *   bytes are due: a HEAD, a 304 or a 416 never opens it; a fully cached file is never opened) and
 *   closed when the range is done, on `close()`, or on error;
 * - `readAhead: 0`: a transfer holds at most one window, taken from the pool (first come, first
 *   served when the budget is exhausted);
 * - `fairTurns`: while other transfers wait for a window, the reader gives its window back between
 *   windows and queues for the next one (sluice/file does this), so under contention transfers
 *   advance in turn instead of the first ones finishing while the rest wait. The file stays open
 *   meanwhile; uncontended, one window serves the whole range;
 * - the file must still have the size its ETag was computed from; otherwise the transfer fails
 *   (the caller cuts the connection) rather than mixing two versions of the file.
 */
import type { BufferPool } from '../buffers/index.js';
import { FileGrewError, FileShrankError, ReaderClosedError } from '../errors.js';
import { type ManagedReader, openReader } from '../file/index.js';
import type { HotWindows } from './hot-windows.js';

export interface WindowSource {
  /** The next window, or `null` after the last byte. Valid until the next call or `close()`. */
  next(): Promise<Buffer | null>;
  /** The last window came from the hot-file cache: it stays valid (see `Pullable.lastStable`). */
  readonly lastStable: boolean;
  /** Returns the held window and closes the file; idempotent. */
  close(): Promise<void>;
}

export interface FileWindowsOptions {
  start: number;
  /** Inclusive. `end < start` means an empty range. */
  end: number;
  /** The size the response headers announced (from `stat`). */
  expectedSize: number;
  pool: BufferPool;
  signal?: AbortSignal | undefined;
  /**
   * Windows of this file kept in memory (`hot-windows.ts`): used when the range starts on a window
   * boundary (whole downloads, most resumes), so that window `k` is bytes `k * slabSize` onwards.
   */
  hot?: { cache: HotWindows; fileKey: string } | undefined;
}

let openFiles = 0;
/** Files the server's transfers hold open right now (process-wide; `/metrics` reports it). */
export function openFileCount(): number {
  return openFiles;
}

export function openFileWindows(path: string, options: FileWindowsOptions): WindowSource {
  let reader: ManagedReader | undefined;
  let opening: Promise<ManagedReader> | undefined;
  let closed = false;
  /** The first byte not yet handed out. */
  let position = options.start;
  const windowSize = options.pool.slabSize;
  const hot = options.hot !== undefined && options.start % windowSize === 0 ? options.hot : undefined;

  const open = async (from: number): Promise<ManagedReader> => {
    const opened = await openReader(path, {
      start: from,
      end: options.end,
      pool: options.pool,
      readAhead: 0,
      fairTurns: true,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    openFiles++;
    if (closed) {
      await release(opened);
      throw new ReaderClosedError(path);
    }
    if (opened.size !== options.expectedSize) {
      await release(opened);
      throw opened.size < options.expectedSize
        ? new FileShrankError(path, options.expectedSize, opened.size)
        : new FileGrewError(path, options.expectedSize);
    }
    reader = opened;
    return opened;
  };
  const release = async (opened: ManagedReader): Promise<void> => {
    try {
      await opened.close();
    } finally {
      openFiles--;
    }
  };
  /** Window `index` of the file from the cache, cut to the range; undefined when not cached. */
  const fromCache = (index: number): Buffer | undefined => {
    const cached = hot!.cache.get(hot!.fileKey, index);
    if (cached === undefined) return undefined;
    const offset = position - index * windowSize;
    return cached.subarray(offset, Math.min(cached.length, options.end + 1 - index * windowSize));
  };

  let lastStable = false;
  return {
    get lastStable() {
      return lastStable;
    },
    async next() {
      lastStable = false;
      if (closed) throw new ReaderClosedError(path);
      if (position > options.end) return null;
      const index = Math.floor(position / windowSize);
      if (hot !== undefined && reader === undefined && opening === undefined) {
        const cached = fromCache(index);
        if (cached !== undefined) {
          position += cached.length;
          lastStable = true;
          return cached;
        }
      }
      opening ??= open(position);
      const window = await (reader ?? (await opening)).next();
      if (window === null) return null;
      // whole windows only: a full window, or the last one of the file
      const whole = window.length === windowSize || position + window.length === options.expectedSize;
      if (hot !== undefined && whole && position % windowSize === 0)
        hot.cache.put(hot.fileKey, index, window);
      position += window.length;
      return window;
    },
    async close() {
      if (closed) return;
      closed = true;
      const opened = reader ?? (await opening?.catch(() => undefined));
      reader = undefined;
      if (opened !== undefined) await release(opened);
    },
  };
}
