import { performance } from 'node:perf_hooks';

/**
 * How long a burst of work chained through microtasks may run before it yields to the macrotask
 * queue. Promise reactions all run before any timer or I/O callback, so a loop over tasks that
 * settle at once would otherwise hold the event loop for the whole drain (the JavaScript form of
 * the seed's starved runtime). 4 ms keeps a 1 ms timer's worst delay near 5 ms at a cost of one
 * `setImmediate` per 4 ms of work.
 */
export const DEFAULT_TURN_BUDGET_MS = 4;

/**
 * The clock is read once per this many units of work, not for each: futures-rs caps the work of
 * one `FuturesUnordered` poll at 32 for the same reason (rust-lang/futures-rs PR #2527).
 */
const UNITS_PER_CLOCK_READ = 32;

/**
 * A budget of work per event-loop turn. `spend()` counts one unit of work and says whether the
 * caller must now yield (continue from `setImmediate`); the caller calls `yielded()` when it
 * resumes. A stale start (the loop went round without us yielding) only makes one yield early.
 */
export class TurnBudget {
  readonly ms: number;
  #units = 0;
  #turnStart = performance.now();

  constructor(ms: number = DEFAULT_TURN_BUDGET_MS) {
    this.ms = ms;
  }

  spend(): boolean {
    if (++this.#units < UNITS_PER_CLOCK_READ) return false;
    this.#units = 0;
    return performance.now() - this.#turnStart >= this.ms;
  }

  /** Called when the work resumes in a new macrotask. */
  yielded(): void {
    this.#units = 0;
    this.#turnStart = performance.now();
  }
}
