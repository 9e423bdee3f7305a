/**
 * The connection buffer budget: every window any download holds comes from one BufferPool whose
 * slabs are window-sized, so all connections' userland buffers together stay within
 * `bufferBudget` bytes. A connection holds at most one window (from read until the socket has taken
 * it); when the budget is exhausted, connections wait in the pool's FIFO, first come first served.
 */
import { BufferPool } from '../buffers/index.js';
import { InvalidArgumentError } from '../errors.js';

/**
 * 1 MiB: each window costs a read, a write and a turn of the loop (about 33 us here), so bigger
 * windows serve fast clients faster, and the 32 MiB budget still bounds all of them together. The
 * lab's `serve` rungs (quiet 2-core machine, one run each, medians of 5): 50 keep-alive clients of
 * a 2 MiB file reached 0.65x nginx's throughput with 256 KiB windows, 0.78x with 512 KiB, 0.81x with
 * 1 MiB and 0.84x with 2 MiB; 5000 slow clients, 256 KiB against 1 MiB: peak RSS 161 against 149 MB,
 * slowest request 5.5 against 3.3 s, CPU 7.2 against 6.5 s (64 KiB, earlier: 0.49-0.54x nginx).
 */
export const DEFAULT_WINDOW_SIZE = 1024 * 1024;
/** 32 MiB: 32 windows of 1 MiB in flight at once, whatever the number of clients. */
export const DEFAULT_BUFFER_BUDGET = 32 * 1024 * 1024;

export interface BufferBudgetOptions {
  /** Bytes per window (slab). Default 1 MiB. */
  windowSize?: number | undefined;
  /** Bytes of windows in use at once, all connections together. Default 32 MiB. */
  bufferBudget?: number | undefined;
  name?: string | undefined;
}

export function createBufferBudget(options: BufferBudgetOptions = {}): BufferPool {
  const windowSize = options.windowSize ?? DEFAULT_WINDOW_SIZE;
  const budget = options.bufferBudget ?? DEFAULT_BUFFER_BUDGET;
  if (!Number.isSafeInteger(windowSize) || windowSize < 512) {
    throw new InvalidArgumentError('windowSize', 'an integer >= 512 (bytes)', windowSize);
  }
  if (!Number.isSafeInteger(budget) || budget < windowSize) {
    throw new InvalidArgumentError('bufferBudget', `an integer >= windowSize (${windowSize} bytes)`, budget);
  }
  return new BufferPool({
    slabSize: windowSize,
    maxSlabs: Math.floor(budget / windowSize),
    name: options.name ?? 'http-budget',
  });
}

let sharedPool: BufferPool | undefined;
/** The process-wide budget used by `sendFile` / `sendZip` when no `pool` is given. */
export function defaultBufferBudget(): BufferPool {
  if (sharedPool === undefined || sharedPool.closed)
    sharedPool = createBufferBudget({ name: 'http-default' });
  return sharedPool;
}
