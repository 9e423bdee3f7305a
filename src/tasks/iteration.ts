/**
 * Pieces shared by the task combinators: the concurrency check, and what their async iterators
 * (`TaskSet`, `mapBounded`) hand to a consumer that waits for the next result.
 */
import { InvalidArgumentError } from '../errors.js';

/** A consumer's pending `next()`: settled when a result (or the end, or an error) is there. */
export interface Waiter<T> {
  resolve(result: IteratorResult<T, undefined>): void;
  reject(error: unknown): void;
}

/** The one end-of-iteration result, shared (frozen: consumers cannot alter it for each other). */
export const DONE: IteratorResult<never, undefined> = Object.freeze({ done: true, value: undefined });

/**
 * `concurrency` as a count of tasks running at once: an integer >= 1, or `Infinity` where
 * `allowInfinity` (a limiter can be unbounded; `mapBounded` sizes its result slots by it).
 */
export function checkConcurrency(concurrency: unknown, allowInfinity: boolean): number {
  const valid =
    typeof concurrency === 'number' &&
    concurrency >= 1 &&
    (Number.isSafeInteger(concurrency) || (allowInfinity && concurrency === Number.POSITIVE_INFINITY));
  if (!valid) {
    const expected = allowInfinity ? 'an integer >= 1 (or Infinity)' : 'an integer >= 1';
    throw new InvalidArgumentError('concurrency', expected, concurrency);
  }
  return concurrency;
}
