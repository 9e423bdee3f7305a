/**
 * Giving memory back after a burst, while the server is idle (no transfer running).
 *
 * An idle Node process does not collect garbage: V8 collects when JavaScript allocates, and its
 * memory reducer does not run in an idle Node process (measured here: 30 s idle after a burst, heap
 * and RSS unchanged). So the garbage of 5000 finished downloads, and a young generation grown to
 * its maximum (2 x 16 MiB semi-spaces), stay resident until the next traffic, which looks like a
 * leak to whoever watches the server's RSS. Two steps, each once per idle period:
 *
 * 1. `IDLE_RECLAIM_MS` after the last transfer ended: free the buffer budget's idle windows
 *    (`BufferPool.trim()`), and when the heap grew since the last reclaim, run a full collection.
 * 2. `YOUNG_SHRINK_MS` after it: another full collection if the young generation is still grown.
 *    V8 shrinks the young generation only in a collection that sees a low allocation rate over
 *    its last 5 s (heap.cc, `Heap::ReduceNewSpaceSize`); earlier ones leave it at its maximum
 *    (measured: 32 MiB new space kept by a collection 0.3-3 s after the burst, 1-2 MiB after 6 s).
 *
 * The collections need a `gc` function: Node exposes one only with `--expose-gc` (`globalThis.gc`),
 * which a library must not turn on for its host; `sluice serve`, an application, does. Without
 * one, only the windows are freed.
 */
import v8 from 'node:v8';
import type { BufferPool } from '../buffers/index.js';

/** No transfer for this long: free the budget's idle windows and collect. */
export const IDLE_RECLAIM_MS = 500;
/** Then this much later: collect again, to shrink the young generation (see above). */
export const YOUNG_SHRINK_MS = 6000;
/** Collect at step 1 only when the heap grew at least this much since the last reclaim. */
export const HEAP_GROWTH_BYTES = 8 * 1024 * 1024;
/** Collect at step 2 only when the young generation is above this (V8's initial size is 1 MiB per semi-space). */
export const YOUNG_GROWN_BYTES = 4 * 1024 * 1024;

export type GcFunction = () => unknown;

/** `globalThis.gc` when the process runs with `--expose-gc`, else undefined. */
export function exposedGc(): GcFunction | undefined {
  const candidate = (globalThis as { gc?: unknown }).gc;
  return typeof candidate === 'function' ? (candidate as GcFunction) : undefined;
}

/** What the reclaimer reads of the heap (V8's figures; tests give their own). */
export interface HeapProbe {
  /** Bytes of heap V8 has committed. */
  heapBytes(): number;
  /** Bytes committed to the young generation (both semi-spaces). */
  youngBytes(): number;
}

export const v8Heap: HeapProbe = {
  heapBytes: () => v8.getHeapStatistics().total_heap_size,
  youngBytes: () => {
    for (const space of v8.getHeapSpaceStatistics()) {
      if (space.space_name === 'new_space') return space.space_size;
    }
    return 0;
  },
};

export interface IdleReclaimOptions {
  /** Default `IDLE_RECLAIM_MS`. */
  reclaimMs?: number;
  /** Default `YOUNG_SHRINK_MS`. */
  youngShrinkMs?: number;
  /** Default: V8's own figures. */
  heap?: HeapProbe;
}

/**
 * Invariants: at most one timer is pending; `busy()` cancels it; nothing runs after `close()`.
 * Timers are unref'd: an idle server's pending reclaim never keeps the process alive.
 */
export class IdleReclaim {
  readonly #pool: BufferPool;
  readonly #gc: GcFunction | undefined;
  readonly #reclaimMs: number;
  readonly #youngShrinkMs: number;
  readonly #heap: HeapProbe;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** Heap size right after the last reclaim's collection (or at start). */
  #heapAfterReclaim: number;

  constructor(pool: BufferPool, gc: GcFunction | undefined, options: IdleReclaimOptions = {}) {
    this.#pool = pool;
    this.#gc = gc;
    this.#reclaimMs = options.reclaimMs ?? IDLE_RECLAIM_MS;
    this.#youngShrinkMs = options.youngShrinkMs ?? YOUNG_SHRINK_MS;
    this.#heap = options.heap ?? v8Heap;
    this.#heapAfterReclaim = this.#heap.heapBytes();
  }

  /** A transfer started: whatever was scheduled waits for the next idle period. */
  busy(): void {
    if (this.#timer === undefined) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** The last transfer ended. */
  idle(): void {
    if (this.#closed) return;
    this.busy();
    this.#timer = setTimeout(() => this.#reclaim(), this.#reclaimMs).unref();
  }

  close(): void {
    this.#closed = true;
    this.busy();
  }

  #reclaim(): void {
    this.#timer = undefined;
    if (this.#closed || this.#pool.closed) return;
    this.#pool.trim();
    if (this.#gc === undefined) return;
    if (this.#heap.heapBytes() - this.#heapAfterReclaim >= HEAP_GROWTH_BYTES) this.#collect();
    this.#timer = setTimeout(() => this.#shrinkYoung(), this.#youngShrinkMs).unref();
  }

  #shrinkYoung(): void {
    this.#timer = undefined;
    if (this.#closed || this.#heap.youngBytes() <= YOUNG_GROWN_BYTES) return;
    this.#collect();
  }

  #collect(): void {
    this.#gc!();
    this.#heapAfterReclaim = this.#heap.heapBytes();
  }
}
