/**
 * The windows of a byte range of a file, read through sluice/file's managed reader with the
 * connection budget's pool: each window is a slab of the budget, valid until the next `next()` or
 * `close()`.
 *
 * Invariants:
 * - the file is opened at the first `next()` (when its bytes are due: a HEAD, a 304 or a 416 never
 *   opens it) and closed when the range is done, on `close()`, or on error;
 * - `readAhead: 0`: a transfer holds at most one window, taken from the pool (first come, first
 *   served when the budget is exhausted);
 * - fair turns: the managed reader reuses its window for the whole range, so when other transfers
 *   wait for a window, this one closes its reader between windows (giving back window and fd) and
 *   reopens at the same offset for its next window, joining the back of the queue. Uncontended,
 *   one reader serves the whole range;
 * - the file must still have the size its ETag was computed from; otherwise the transfer fails
 *   (the caller cuts the connection) rather than mixing two versions of the file.
 */
import type { BufferPool } from '../buffers/index.js';
import { FileGrewError, FileShrankError, ReaderClosedError } from '../errors.js';
import { type ManagedReader, openReader } from '../file/index.js';

export interface WindowSource {
  /** The next window, or `null` after the last byte. Valid until the next call or `close()`. */
  next(): Promise<Buffer | null>;
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
}

let openFiles = 0;
/** Files the server's transfers hold open right now (process-wide; `/metrics` reports it). */
export function openFileCount(): number {
  return openFiles;
}

export function openFileWindows(path: string, options: FileWindowsOptions): WindowSource {
  const { pool } = options;
  let reader: ManagedReader | undefined;
  let opening: Promise<ManagedReader> | undefined;
  let position = options.start;
  let closed = false;

  const open = async (): Promise<ManagedReader> => {
    const opened = await openReader(path, {
      start: position,
      end: options.end,
      pool,
      readAhead: 0,
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

  return {
    async next() {
      if (closed) throw new ReaderClosedError(path);
      if (position > options.end) return null;
      if (reader !== undefined && pool.stats().waiting > 0) {
        // our turn is over: give the window (and the fd) to the next transfer in the queue
        const yielding = reader;
        reader = undefined;
        opening = undefined;
        await release(yielding);
      }
      opening ??= open();
      const window = await (reader ?? (await opening)).next();
      if (window !== null) position += window.length;
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
