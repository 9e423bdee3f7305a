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
  let reader: ManagedReader | undefined;
  let opening: Promise<ManagedReader> | undefined;
  let closed = false;

  const open = async (): Promise<ManagedReader> => {
    const opened = await openReader(path, {
      start: options.start,
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

  return {
    async next() {
      if (closed) throw new ReaderClosedError(path);
      if (options.end < options.start) return null;
      opening ??= open();
      return (reader ?? (await opening)).next();
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
