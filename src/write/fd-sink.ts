import fs from 'node:fs';
import type { AsyncWriteSink, SyncWriteSink } from './sink.js';

export interface FdSinkOptions {
  /** Names the target in messages; default `fd N`. */
  target?: string;
  /** Close the descriptor in `close()` (true when sluice opened it). */
  autoClose?: boolean;
}

/**
 * A file descriptor written with one blocking `writev` per batch on the calling thread.
 *
 * For a regular file the call copies the batch into the page cache and returns: 0.1-0.3 ms for a
 * 1 MiB batch here, less than one threadpool round trip costs per batch in wake-ups (docs/write.md
 * has the measurements). It can block for longer when the kernel throttles dirty pages, which is why
 * `strategy: 'threadpool'` exists, and why pipes, terminals and devices never get this sink by default.
 */
export function createSyncFdSink(fd: number, options: FdSinkOptions = {}): SyncWriteSink {
  const target = options.target ?? `fd ${fd}`;
  return {
    kind: 'sync',
    target,
    writevSync: (chunks) => fs.writevSync(fd, chunks as Buffer[]),
    sync: () => fdatasync(fd),
    close: () => (options.autoClose === true ? closeFd(fd) : Promise.resolve()),
  };
}

/** A file descriptor written with `fs.writev` on the libuv threadpool: the event loop never blocks. */
export function createThreadpoolFdSink(fd: number, options: FdSinkOptions = {}): AsyncWriteSink {
  const target = options.target ?? `fd ${fd}`;
  return {
    kind: 'async',
    target,
    writev: (chunks, callback) => {
      fs.writev(fd, chunks as Buffer[], (error, bytesWritten) => callback(error, bytesWritten ?? 0));
    },
    writevSync: (chunks) => fs.writevSync(fd, chunks as Buffer[]),
    sync: () => fdatasync(fd),
    close: () => (options.autoClose === true ? closeFd(fd) : Promise.resolve()),
  };
}

function fdatasync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.fdatasync(fd, (error) => (error ? reject(error) : resolve()));
  });
}

function closeFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.close(fd, (error) => (error ? reject(error) : resolve()));
  });
}
