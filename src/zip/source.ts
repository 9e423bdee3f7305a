/**
 * The one place sluice/zip reads files. It has the shape of sluice/file's managed reader
 * (`openReader(path, { start, end, signal, pool })`, `stats`, `next()`, `close()`) so that switching
 * to it is a one-line change once sluice/file lands.
 *
 * Until then: positional reads of one window through a `FileHandle`; the window comes from `pool`
 * when given (and goes back on close), else is allocated once per reader.
 */
import { type FileHandle, open } from 'node:fs/promises';
import type { BufferPool } from '../buffers/index.js';
import {
  AbortError,
  FileNotFoundError,
  FilePermissionError,
  FileReadError,
  FileShrankError,
  NotAFileError,
  RangeOutsideFileError,
  ReaderClosedError,
} from '../errors.js';

/** 1 MiB: a window per read, large enough that the per-read cost is amortised (lab `fileread`). */
export const DEFAULT_WINDOW_SIZE = 1 << 20;

export interface SourceStats {
  size: number;
  mtimeMs: number;
  dev: number;
  ino: number;
  mode: number;
}

export interface SourceReader {
  readonly stats: SourceStats;
  /** The next window of the range; valid until the next `next()` or `close()`. `null` at the end. */
  next(): Promise<Buffer | null>;
  close(): Promise<void>;
}

export interface SourceOptions {
  start?: number;
  /** Inclusive. */
  end?: number;
  signal?: AbortSignal;
  pool?: BufferPool;
  windowSize?: number;
}

/** The sluice/file error for an OS error from opening or stat-ing `path`. */
export function wrapOpenError(path: string, error: unknown): Error {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FileNotFoundError(path, error);
  if (code === 'EACCES' || code === 'EPERM') return new FilePermissionError(path, error);
  if (code === 'EISDIR') return new NotAFileError(path, 'directory');
  return new FileReadError(path, error);
}

export async function openSource(path: string, options: SourceOptions = {}): Promise<SourceReader> {
  const { signal, pool } = options;
  if (signal?.aborted) throw new AbortError(`reading ${path}`, signal.reason);
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw wrapOpenError(path, error);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new NotAFileError(path, stat.isDirectory() ? 'directory' : 'not regular');
    const stats: SourceStats = {
      size: stat.size,
      mtimeMs: stat.mtimeMs,
      dev: stat.dev,
      ino: stat.ino,
      mode: stat.mode,
    };
    const start = options.start ?? 0;
    const end = options.end ?? stat.size - 1;
    if (start < 0 || (end >= stat.size && end >= start) || start > end + 1) {
      throw new RangeOutsideFileError(path, start, end, stat.size);
    }
    // no larger than the range: a small file gets a small window
    const window = pool
      ? await pool.acquire(signal)
      : Buffer.allocUnsafeSlow(
          Math.max(1, Math.min(options.windowSize ?? DEFAULT_WINDOW_SIZE, end + 1 - start)),
        );
    return new FileHandleSource(path, handle, stats, start, end, window, pool, signal);
  } catch (error) {
    await handle.close();
    throw error;
  }
}

class FileHandleSource implements SourceReader {
  readonly stats: SourceStats;
  readonly #path: string;
  readonly #handle: FileHandle;
  readonly #end: number;
  readonly #window: Buffer;
  readonly #pool: BufferPool | undefined;
  readonly #signal: AbortSignal | undefined;
  #position: number;
  #closed = false;

  constructor(
    path: string,
    handle: FileHandle,
    stats: SourceStats,
    start: number,
    end: number,
    window: Buffer,
    pool: BufferPool | undefined,
    signal: AbortSignal | undefined,
  ) {
    this.#path = path;
    this.#handle = handle;
    this.stats = stats;
    this.#position = start;
    this.#end = end;
    this.#window = window;
    this.#pool = pool;
    this.#signal = signal;
  }

  async next(): Promise<Buffer | null> {
    if (this.#closed) throw new ReaderClosedError(this.#path);
    if (this.#signal?.aborted) throw new AbortError(`reading ${this.#path}`, this.#signal.reason);
    const remaining = this.#end + 1 - this.#position;
    if (remaining <= 0) return null;
    const length = Math.min(remaining, this.#window.length);
    let filled = 0;
    while (filled < length) {
      let bytesRead: number;
      try {
        ({ bytesRead } = await this.#handle.read(
          this.#window,
          filled,
          length - filled,
          this.#position + filled,
        ));
      } catch (error) {
        throw new FileReadError(this.#path, error);
      }
      if (bytesRead === 0) throw new FileShrankError(this.#path, this.stats.size, this.#position + filled);
      filled += bytesRead;
    }
    this.#position += length;
    return this.#window.subarray(0, length);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#pool) this.#pool.release(this.#window);
    await this.#handle.close();
  }
}
