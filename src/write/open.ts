import fs from 'node:fs';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  FileNotFoundError,
  FilePermissionError,
  InvalidArgumentError,
  NotAFileError,
  WriteFailedError,
} from '../errors.js';
import { createSyncFdSink, createThreadpoolFdSink } from './fd-sink.js';
import type { WriteSink } from './sink.js';
import { createStreamSink } from './stream-sink.js';

/** Where a `BatchWriter` writes: a path, an open file descriptor, or a socket (any `Writable`). */
export type WriteTarget = string | URL | number | Writable;

export interface SinkOptions {
  /** For a path: `'append'` (default; O_APPEND, created if missing) or `'truncate'` (created or emptied). */
  mode?: 'append' | 'truncate';
  /** Permission bits of a created file. Default 0o666 (before umask). */
  fileMode?: number;
  /**
   * For a path or fd: `'sync'` writes each batch with one blocking writev on the calling thread,
   * `'threadpool'` with fs.writev on the libuv threadpool. `'auto'` (default): `'sync'` for regular
   * files, `'threadpool'` for anything else (a pipe or terminal can block for as long as its reader
   * sleeps). docs/write.md has the measurements behind this.
   */
  strategy?: 'auto' | 'sync' | 'threadpool';
  /** Close the fd / end the socket in `close()`. Default: true for a path, false for an fd or socket. */
  autoClose?: boolean;
}

/** Opens the sink for `target`: the fd of a path, the fd given, or the stream's own write path. */
export async function openSink(target: WriteTarget, options: SinkOptions = {}): Promise<WriteSink> {
  if (target instanceof Writable) {
    return createStreamSink(target, options.autoClose === undefined ? {} : { autoClose: options.autoClose });
  }
  if (typeof target === 'number') {
    if (!Number.isSafeInteger(target) || target < 0) {
      throw new InvalidArgumentError('fd', 'a non-negative integer', target);
    }
    return fdSink(target, `fd ${target}`, options.autoClose ?? false, options.strategy);
  }
  if (typeof target !== 'string' && !(target instanceof URL)) {
    throw new InvalidArgumentError('target', 'a path, a file descriptor or a Writable (socket)', target);
  }
  const path = typeof target === 'string' ? target : fileURLToPath(target);
  const mode = options.mode ?? 'append';
  if (mode !== 'append' && mode !== 'truncate') {
    throw new InvalidArgumentError('mode', "'append' or 'truncate'", mode);
  }
  const fd = await new Promise<number>((resolve, reject) => {
    fs.open(path, mode === 'append' ? 'a' : 'w', options.fileMode ?? 0o666, (error, fd) =>
      error ? reject(openError(path, error)) : resolve(fd),
    );
  });
  try {
    return await fdSink(fd, path, options.autoClose ?? true, options.strategy);
  } catch (error) {
    fs.close(fd, () => {});
    throw error;
  }
}

async function fdSink(
  fd: number,
  target: string,
  autoClose: boolean,
  strategy: SinkOptions['strategy'] = 'auto',
): Promise<WriteSink> {
  if (strategy !== 'auto' && strategy !== 'sync' && strategy !== 'threadpool') {
    throw new InvalidArgumentError('strategy', "'auto', 'sync' or 'threadpool'", strategy);
  }
  let chosen = strategy;
  if (chosen === 'auto') {
    const stats = await new Promise<fs.Stats>((resolve, reject) => {
      fs.fstat(fd, (error, stats) => (error ? reject(openError(target, error)) : resolve(stats)));
    });
    chosen = stats.isFile() ? 'sync' : 'threadpool';
  }
  return chosen === 'sync'
    ? createSyncFdSink(fd, { target, autoClose })
    : createThreadpoolFdSink(fd, { target, autoClose });
}

function openError(path: string, error: NodeJS.ErrnoException): Error {
  switch (error.code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new FileNotFoundError(path, error);
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FilePermissionError(path, error);
    case 'EISDIR':
      return new NotAFileError(path, 'directory');
    default:
      return new WriteFailedError(path, error, 0, 0, `open: ${error.message}`);
  }
}
