/**
 * The strategy planner: like a query planner (seed 003), it picks how to read from what it knows
 * (the bytes wanted, the readers open, the threadpool's load) and from what it has measured (the
 * throughput each strategy actually delivered in this process).
 *
 * Figures behind the constants, measured on this project's 2-core VM with a 636 MiB cached file
 * (lab `fileread`): one `readSync` loop copies about 9 GB/s whatever the window from 64 KiB up;
 * positional reads with 4 in flight on the threadpool reach 1.2-1.5x that (two cores copy at once),
 * best with 2-4 MiB windows; a dedicated worker thread reading synchronously matches `readSync`
 * and leaves the threadpool alone.
 */
import type { Strategy } from './types.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/** Ranges up to this size are read with one `readSync`: ~30 us of blocking at 9 GB/s. */
export const SYNC_MAX_BYTES = 256 * KiB;
/** Reads at least this long are measured and may go to the worker. */
export const LARGE_READ_BYTES = 8 * MiB;
export const MIN_WINDOW = 4 * KiB;
export const MAX_WINDOW = 64 * MiB;

/** libuv's threadpool size (UV_THREADPOOL_SIZE, default 4): reads beyond it queue. */
export const threadpoolSize = Math.max(1, Number(process.env.UV_THREADPOOL_SIZE) || 4);

export interface PlanInput {
  /** Bytes the reader will deliver. */
  length: number;
  strategy: Strategy | 'auto';
  windowSize: number | undefined;
  readAhead: number | undefined;
  /** The window size is fixed by a caller's pool. */
  poolSlabSize: number | undefined;
}

export interface Plan {
  strategy: Strategy;
  windowSize: number;
  readAhead: number;
}

/** What the planner knows about the process right now; kept by `reader.ts`. */
export const load = {
  /** Managed readers open in this process. */
  openReaders: 0,
  /** Threadpool reads issued by managed readers and not yet completed. */
  threadpoolReadsInFlight: 0,
  /** Read workers busy with a reader. */
  busyWorkers: 0,
};

/** Exponentially weighted throughput (bytes per ms) each strategy delivered on large reads. */
const measured = new Map<Strategy, number>();

export function recordThroughput(strategy: Strategy, bytes: number, elapsedMs: number): void {
  if (bytes < LARGE_READ_BYTES || elapsedMs <= 0) return;
  const sample = bytes / elapsedMs;
  const previous = measured.get(strategy);
  measured.set(strategy, previous === undefined ? sample : previous * 0.7 + sample * 0.3);
}

export function measuredThroughput(): ReadonlyMap<Strategy, number> {
  return measured;
}

/** For tests: forget what was measured. */
export function resetMeasurements(): void {
  measured.clear();
}

export function plan(input: PlanInput): Plan {
  const strategy = input.strategy === 'auto' ? chooseStrategy(input) : input.strategy;
  const windowSize = input.poolSlabSize ?? input.windowSize ?? chooseWindow(strategy, input.length);
  const readAhead = input.readAhead ?? chooseReadAhead(strategy);
  return { strategy, windowSize, readAhead };
}

function chooseStrategy(input: PlanInput): Strategy {
  if (input.length <= SYNC_MAX_BYTES) return 'sync';
  // The worker's ring is shared memory: it cannot take windows from a caller's pool.
  if (input.poolSlabSize !== undefined || input.length < LARGE_READ_BYTES) return 'threadpool';
  const viaWorker = measured.get('worker');
  const viaThreadpool = measured.get('threadpool');
  const workerFree = load.busyWorkers === 0;
  if (
    workerFree &&
    viaWorker !== undefined &&
    viaThreadpool !== undefined &&
    viaWorker > viaThreadpool * 1.1
  ) {
    return 'worker';
  }
  // The threadpool is saturated (other readers, zlib, dns): a dedicated thread does not queue.
  if (workerFree && load.threadpoolReadsInFlight >= threadpoolSize) return 'worker';
  return 'threadpool';
}

function chooseWindow(strategy: Strategy, length: number): number {
  if (strategy === 'sync')
    return clampPow2(length, MIN_WINDOW, length <= SYNC_MAX_BYTES ? SYNC_MAX_BYTES : MiB);
  if (strategy === 'worker') return MiB;
  // A lone reader gets 2 MiB windows: half the reads of 1 MiB ones, and at 30-40 us of threadpool
  // round trip per read that is worth 1.18x -> 1.36x readSync on the 636 MiB file (child process per
  // run, medians of 7; 4 MiB gave 1.42x for twice the memory). Many readers share the memory budget
  // and the threadpool: smaller windows each.
  const open = load.openReaders;
  const cap = open > 256 ? 64 * KiB : open > 16 ? 256 * KiB : open > 0 ? MiB : 2 * MiB;
  return clampPow2(Math.ceil(length / 4), 64 * KiB, cap);
}

function chooseReadAhead(strategy: Strategy): number {
  if (strategy === 'sync') return 0;
  if (strategy === 'worker') return 3;
  const open = load.openReaders;
  // 4 reads in flight fill a threadpool of 4; readers beyond that share it.
  if (open <= 1) return threadpoolSize;
  if (open <= threadpoolSize) return Math.max(1, Math.floor((threadpoolSize * 2) / open));
  return 1;
}

/** The smallest power of two >= `value`, within [min, max]. */
function clampPow2(value: number, min: number, max: number): number {
  let size = min;
  while (size < value && size < max) size *= 2;
  return Math.min(size, max);
}
