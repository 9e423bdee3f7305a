/**
 * The one place sendFile reads files: windows of a byte range, each a slab of the connection
 * budget's BufferPool, valid until the next `next()` or `close()` (the managed reader contract of
 * `sluice/file`, which replaces this when it lands: same shape, same semantics).
 *
 * Invariants:
 * - the file is opened at the first `next()` (when its bytes are due) and closed when the range is
 *   done, on `close()`, or on error; never while a read on it is in flight;
 * - at most one window is held: the previous one goes back to the pool before the next is taken, so
 *   a connection never holds two slabs and waiting connections are served first come, first served;
 * - the bytes come from the file as it was stat'ed: EOF before `end` is `SLUICE_ERR_FILE_SHRANK`.
 */
import { close, open, read } from 'node:fs';
import type { BufferPool } from '../buffers/index.js';
import {
  AbortError,
  FileNotFoundError,
  FilePermissionError,
  FileReadError,
  FileShrankError,
  ReaderClosedError,
  type SluiceError,
} from '../errors.js';

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
  pool: BufferPool;
  signal?: AbortSignal | undefined;
}

let openFiles = 0;
/** Files the server's transfers hold open right now (process-wide; `/metrics` reports it). */
export function openFileCount(): number {
  return openFiles;
}

export function openFileWindows(path: string, options: FileWindowsOptions): WindowSource {
  const { pool, signal } = options;
  let position = options.start;
  const end = options.end;
  let fd: number | undefined;
  let window: Buffer | undefined;
  let closed = false;
  let busy: Promise<unknown> = Promise.resolve();

  const releaseWindow = (): void => {
    if (window !== undefined) {
      const held = window;
      window = undefined;
      pool.release(held);
    }
  };
  const closeFile = (): Promise<void> => {
    if (fd === undefined) return Promise.resolve();
    const held = fd;
    fd = undefined;
    return new Promise((resolve) => {
      close(held, () => {
        openFiles--;
        resolve();
      });
    });
  };

  const step = async (): Promise<Buffer | null> => {
    if (closed) throw new ReaderClosedError(path);
    releaseWindow();
    if (position > end) {
      await closeFile();
      return null;
    }
    if (signal?.aborted) throw new AbortError(`reading ${path}`, signal.reason);
    // the window first: a transfer waiting in the budget's queue holds no file open
    const slab = await pool.acquire(signal);
    window = slab;
    if (closed) {
      releaseWindow();
      throw new ReaderClosedError(path);
    }
    if (fd === undefined) fd = await openForReading(path);
    const length = Math.min(slab.length, end - position + 1);
    const bytesRead = await readAt(fd, slab, length, position, path);
    if (bytesRead === 0) throw new FileShrankError(path, end + 1, position);
    position += bytesRead;
    return slab.subarray(0, bytesRead);
  };

  return {
    next() {
      const result = busy.then(step, step);
      busy = result.catch(() => undefined);
      return result;
    },
    async close() {
      if (closed) return;
      closed = true;
      // never close the file while a read is in flight (Node lib/internal/fs/streams.js does the same)
      await busy;
      releaseWindow();
      await closeFile();
    },
  };
}

function openForReading(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (error, fd) => {
      if (error) {
        reject(wrapOpenError(path, error));
        return;
      }
      openFiles++;
      resolve(fd);
    });
  });
}

function readAt(fd: number, slab: Buffer, length: number, position: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, slab, 0, length, position, (error, bytesRead) => {
      if (error) reject(new FileReadError(path, error));
      else resolve(bytesRead);
    });
  });
}

export function wrapOpenError(path: string, error: NodeJS.ErrnoException): SluiceError {
  if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return new FileNotFoundError(path, error);
  if (error.code === 'EACCES' || error.code === 'EPERM') return new FilePermissionError(path, error);
  return new FileReadError(path, error);
}
