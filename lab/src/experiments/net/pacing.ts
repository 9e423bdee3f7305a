/**
 * Pacing on an hrtime schedule: send i is due at `start + i * interval` (absolute, from
 * `process.hrtime.bigint()`), so time spent in the exchange never stretches the period (the seed's
 * code slept a fixed time after each reply, so its real rate was below the nominal one).
 *
 * Waiting for a due time: a timer covers all but the last 2 ms (timers alone are only good to ~1 ms
 * and would set the schedule), then the loop yields with `setImmediate` and re-reads the clock
 * until the due time; I/O and background tasks keep running meanwhile.
 */
import { setTimeout as sleep, setImmediate as yieldTurn } from 'node:timers/promises';

export const now = (): bigint => process.hrtime.bigint();

const COARSE_MARGIN_NS = 2_000_000n;

export async function waitUntil(due: bigint): Promise<void> {
  const remaining = due - now();
  if (remaining > COARSE_MARGIN_NS) await sleep(Number((remaining - COARSE_MARGIN_NS) / 1_000_000n));
  while (now() < due) await yieldTurn();
}
