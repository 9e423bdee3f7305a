/**
 * Where sluice/zip checksums whole files off the main thread (`crcOffThread`): on libuv's threadpool
 * through the native addon when it is built and the CPU has a carry-less multiply
 * (`crc-threadpool.ts`), else on CRC worker threads.
 *
 * CRC worker threads for `zipDirectory`: each computes whole files' CRC-32s off the main thread
 * (`crc-thread.ts`), so computing the CRCs of a directory uses every core while the event loop
 * stays free, and the bytes are copied once, into a buffer that stays in the worker's cache.
 *
 * At most `maxCrcWorkers()` threads, started on demand and kept for reuse; idle ones are unref'd
 * and never keep the process alive. A job waits its turn (first come, first served) when all are
 * busy. Starting a thread costs about 25 ms here, so callers use them only for enough bytes.
 */
import os from 'node:os';
import { AbortError } from '../errors.js';
import { fromOsError } from '../file/os-errors.js';
import { JobThread, ThreadLeases } from '../internal/job-threads.js';
import { crcOnThreadpool, threadpoolCrcAvailable } from './crc-threadpool.js';
import type { FileVersion } from './file-version.js';

/** One file to checksum; `cancel` is an Int32Array(1) the thread polls between windows. */
export interface CrcJob {
  id: number;
  path: string;
  cancel: SharedArrayBuffer;
}

export type CrcReply =
  | {
      id: number;
      outcome: 'done';
      crc: number;
      bytes: number;
      /** The file's version (fstat of the descriptor read) before the first read and after the last. */
      before: FileVersion;
      after: FileVersion;
    }
  | { id: number; outcome: 'cancelled' }
  | {
      id: number;
      outcome: 'failed';
      error: {
        code: string | undefined;
        errno: number | undefined;
        syscall: string | undefined;
        message: string;
      };
    };

/** One CRC thread per core, at most 4. */
export function maxCrcWorkers(): number {
  return Math.max(1, Math.min(4, os.availableParallelism()));
}

/**
 * CRC threads for deferred CRCs, which run beside the stream that needs them.
 * - With the native addon (threadpool CRCs, nothing to start): one per core, at most 4. The CRCs
 *   are the critical path of a cold archive (each file's CRC must be known before its header), and
 *   the stream's own reads take little CPU. On this project's 2-core VM, a cold 629 MB archive with
 *   two against one: 80 against 100 ms, same peak RSS (fresh processes alternating).
 * - With worker threads: one core is left to the stream (its main thread and its reads), so one per
 *   core but one, at least 1, at most 4. Here, one thread against two: 134 against 142 ms, 201
 *   against 225 ms of CPU, 75 against 93 MB peak RSS (fresh processes alternating, medians of 7).
 */
export function deferredCrcWorkers(): number {
  const cores = os.availableParallelism();
  return Math.max(1, Math.min(4, threadpoolCrcAvailable ? cores : cores - 1));
}

type CrcWorker = JobThread<CrcJob, CrcReply>;

const crcWorkers = new ThreadLeases<CrcWorker>(
  'CRC worker',
  maxCrcWorkers,
  (onFailed) =>
    new JobThread<CrcJob, CrcReply>(
      new URL('./crc-thread.js', import.meta.url),
      'sluice crc worker',
      onFailed,
    ),
);
let nextJobId = 1;

/**
 * Whether a CRC job would wait for a thread to start: none is idle and online, and one is still
 * starting (~25 ms from `new Worker` to its module running here). Then the caller may as well
 * compute on its own thread meanwhile.
 */
export function crcWorkersStarting(): boolean {
  return !threadpoolCrcAvailable && !crcWorkers.readyIdle && crcWorkers.starting;
}

/** Starts CRC threads up to `count` (at most `maxCrcWorkers()`) now, so they are ready when needed. */
export function startCrcWorkers(count: number): void {
  if (!threadpoolCrcAvailable) crcWorkers.startUpTo(count);
}

/** What a CRC thread found: the CRC of `bytes` bytes, read between the two versions seen. */
export interface CrcOfFile {
  crc: number;
  bytes: number;
  before: FileVersion;
  after: FileVersion;
}

/**
 * The CRC-32 of the whole file at `path` and how many bytes it had, computed off the main thread: on
 * the threadpool with the native addon (at most `maxCrcWorkers()` files at once in the process),
 * else on a CRC worker thread. Aborting stops it within one window or chunk and rejects with
 * `SLUICE_ERR_ABORTED`; the file is closed before the promise settles.
 */
export function crcOffThread(path: string, signal: AbortSignal | undefined): Promise<CrcOfFile> {
  return threadpoolCrcAvailable ? crcOnThreadpool(path, signal, maxCrcWorkers()) : crcInWorker(path, signal);
}

/**
 * The CRC-32 of the whole file at `path` and how many bytes it had, computed on a CRC thread.
 * Aborting stops the thread within one window and rejects with `SLUICE_ERR_ABORTED`.
 */
export async function crcInWorker(path: string, signal: AbortSignal | undefined): Promise<CrcOfFile> {
  if (signal?.aborted) throw new AbortError(`computing the CRC-32 of ${path}`, signal.reason);
  const worker = await crcWorkers.lease(signal);
  const cancel = new SharedArrayBuffer(Int32Array.BYTES_PER_ELEMENT);
  const onAbort = (): void => {
    Atomics.store(new Int32Array(cancel), 0, 1);
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  let reply: CrcReply | Error;
  try {
    reply = await worker.run({ id: nextJobId++, path, cancel });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    crcWorkers.giveBack(worker);
  }
  if (reply instanceof Error) throw reply;
  switch (reply.outcome) {
    case 'done':
      return { crc: reply.crc, bytes: reply.bytes, before: reply.before, after: reply.after };
    case 'cancelled':
      throw new AbortError(`computing the CRC-32 of ${path}`, signal?.reason);
    case 'failed':
      throw fromOsError(path, Object.assign(new Error(reply.error.message), reply.error));
  }
}

/** Terminates idle CRC threads (they are started again on demand). For tests and clean exits. */
export function terminateIdleCrcWorkers(): Promise<void> {
  return crcWorkers.terminateIdle();
}
