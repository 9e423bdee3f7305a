/**
 * CRC worker threads for `zipDirectory`: each computes whole files' CRC-32s off the main thread
 * (`crc-thread.ts`), so computing the CRCs of a directory uses every core while the event loop
 * stays free, and the bytes are copied once, into a buffer that stays in the worker's cache.
 *
 * At most `maxCrcWorkers()` threads, started on demand and kept for reuse; idle ones are unref'd
 * and never keep the process alive. A job waits its turn (first come, first served) when all are
 * busy. Starting a thread costs about 25 ms here, so callers use them only for enough bytes.
 */
import os from 'node:os';
import { Worker } from 'node:worker_threads';
import { AbortError, ReadWorkerError } from '../errors.js';
import { fromOsError } from '../file/os-errors.js';
import { Fifo } from '../internal/fifo.js';

/** One file to checksum; `cancel` is an Int32Array(1) the thread polls between windows. */
export interface CrcJob {
  id: number;
  path: string;
  cancel: SharedArrayBuffer;
}

export type CrcReply =
  | { id: number; outcome: 'done'; crc: number; bytes: number }
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

class CrcWorker {
  readonly thread: Worker;
  failed = false;
  #onReply: ((reply: CrcReply | Error) => void) | undefined;

  constructor() {
    this.thread = new Worker(new URL('./crc-thread.js', import.meta.url), { name: 'sluice crc worker' });
    this.thread.unref();
    this.thread.on('message', (reply: CrcReply) => this.#settle(reply));
    this.thread.on('error', (error) => this.#fail(new ReadWorkerError('the CRC thread threw', error)));
    this.thread.on('exit', (code) =>
      this.#fail(new ReadWorkerError(`the CRC thread exited with code ${code}`)),
    );
  }

  run(job: CrcJob): Promise<CrcReply | Error> {
    return new Promise((resolve) => {
      this.#onReply = resolve;
      this.thread.ref();
      this.thread.postMessage(job);
    });
  }

  #settle(reply: CrcReply | Error): void {
    const onReply = this.#onReply;
    this.#onReply = undefined;
    this.thread.unref();
    onReply?.(reply);
  }

  #fail(error: Error): void {
    this.failed = true;
    const index = workers.indexOf(this);
    if (index !== -1) workers.splice(index, 1);
    this.#settle(error);
  }
}

const workers: CrcWorker[] = [];
const idle: CrcWorker[] = [];
const waiting = new Fifo<(worker: CrcWorker) => void>();
let nextJobId = 1;

/** Starts CRC threads up to `count` (at most `maxCrcWorkers()`) now, so they are ready when needed. */
export function startCrcWorkers(count: number): void {
  while (workers.length < Math.min(count, maxCrcWorkers())) {
    const worker = new CrcWorker();
    workers.push(worker);
    returnWorker(worker);
  }
}

async function leaseWorker(signal: AbortSignal | undefined): Promise<CrcWorker> {
  let worker = idle.pop();
  while (worker?.failed) worker = idle.pop();
  if (worker === undefined && workers.length < maxCrcWorkers()) {
    worker = new CrcWorker();
    workers.push(worker);
  }
  if (worker !== undefined) return worker;
  return new Promise<CrcWorker>((resolve, reject) => {
    const onAbort = (): void => {
      waiting.remove(take);
      reject(new AbortError('waiting for a CRC worker', signal?.reason));
    };
    const take = (leased: CrcWorker): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve(leased);
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    waiting.push(take);
  });
}

function returnWorker(worker: CrcWorker): void {
  if (worker.failed) return;
  const next = waiting.shift();
  if (next !== undefined) next(worker);
  else idle.push(worker);
}

/**
 * The CRC-32 of the whole file at `path` and how many bytes it had, computed on a CRC thread.
 * Aborting stops the thread within one window and rejects with `SLUICE_ERR_ABORTED`.
 */
export async function crcInWorker(
  path: string,
  signal: AbortSignal | undefined,
): Promise<{ crc: number; bytes: number }> {
  if (signal?.aborted) throw new AbortError(`computing the CRC-32 of ${path}`, signal.reason);
  const worker = await leaseWorker(signal);
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
    returnWorker(worker);
  }
  if (reply instanceof Error) throw reply;
  switch (reply.outcome) {
    case 'done':
      return { crc: reply.crc, bytes: reply.bytes };
    case 'cancelled':
      throw new AbortError(`computing the CRC-32 of ${path}`, signal?.reason);
    case 'failed':
      throw fromOsError(path, Object.assign(new Error(reply.error.message), reply.error));
  }
}

/** Terminates idle CRC threads (they are started again on demand). For tests and clean exits. */
export async function terminateIdleCrcWorkers(): Promise<void> {
  const stopping = idle.splice(0).map((worker) => {
    worker.failed = true;
    const index = workers.indexOf(worker);
    if (index !== -1) workers.splice(index, 1);
    return worker.thread.terminate();
  });
  await Promise.all(stopping);
}
