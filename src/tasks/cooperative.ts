import { performance } from 'node:perf_hooks';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { InvalidArgumentError } from '../errors.js';

export interface CooperativeOptions {
  /**
   * When to yield to the macrotask queue (timers, I/O): a number N means every N items;
   * `{ items, ms }` yields after `items` items or `ms` milliseconds since the last yield, whichever
   * comes first. Default `{ items: 1024, ms: 4 }`. The time includes the consumer's loop body.
   */
  every?: number | { items?: number; ms?: number };
}

const DEFAULT_EVERY = { items: 1024, ms: 4 };

function parseEvery(every: CooperativeOptions['every']): { items: number; ms: number } {
  if (every === undefined) return DEFAULT_EVERY;
  if (typeof every === 'number')
    return { items: checkPositive('every', every), ms: Number.POSITIVE_INFINITY };
  if (typeof every !== 'object' || every === null) {
    throw new InvalidArgumentError('every', 'a number or { items?, ms? }', every);
  }
  if (every.items === undefined && every.ms === undefined) {
    throw new InvalidArgumentError('every', 'a number or { items?, ms? } with at least one set', every);
  }
  return {
    items: every.items === undefined ? Number.POSITIVE_INFINITY : checkPositive('every.items', every.items),
    ms: every.ms === undefined ? Number.POSITIVE_INFINITY : checkPositive('every.ms', every.ms),
  };
}

function checkPositive(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0)) throw new InvalidArgumentError(name, 'a number > 0', value);
  return value;
}

/**
 * Iterates `iterable` (sync or async) and yields to the macrotask queue every N items or M ms, so a
 * long loop lets timers and I/O run. `for await` over an always-ready source otherwise runs
 * entirely in microtasks, which run before any timer: the whole loop would block the event loop.
 *
 * ```ts
 * for await (const row of cooperative(rows, { every: { items: 500, ms: 5 } })) index.add(row);
 * ```
 *
 * Leaving the loop early closes the source (`return()`), as a plain `for` loop would.
 */
export async function* cooperative<T>(
  iterable: Iterable<T> | AsyncIterable<T>,
  options: CooperativeOptions = {},
): AsyncGenerator<T, void, undefined> {
  const { items, ms } = parseEvery(options.every);
  const timed = ms !== Number.POSITIVE_INFINITY;
  let count = 0;
  let since = timed ? performance.now() : 0;
  for await (const item of iterable) {
    yield item;
    if (++count >= items || (timed && performance.now() - since >= ms)) {
      await nextTurn();
      count = 0;
      if (timed) since = performance.now();
    }
  }
}
