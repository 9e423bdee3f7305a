/**
 * Background load inside the measuring process, as in seed 001's modified ping-pong apps.
 *  - `timer`: N tasks that each wake up every 1 ms (the seed's "CPU-bound" tasks really were
 *    `sleep(1 ms)` loops).
 *  - `cpu`: N tasks that each sort 100 random numbers, then yield (`setImmediate`), forever. In
 *    Node all of them share the one event loop, so this measures what a CPU-heavy main thread does
 *    to I/O latency.
 */
import { setTimeout as sleep, setImmediate as yieldTurn } from 'node:timers/promises';

export type LoadKind = 'none' | 'timer' | 'cpu';

export function startLoad(kind: LoadKind, tasks: number): () => Promise<void> {
  if (kind === 'none' || tasks === 0) return async () => {};
  let running = true;
  let sink = 0;
  const task = async (): Promise<void> => {
    const numbers = new Float64Array(100);
    while (running) {
      if (kind === 'timer') {
        await sleep(1);
        sink++;
      } else {
        for (let index = 0; index < numbers.length; index++) numbers[index] = Math.random();
        numbers.sort();
        sink += numbers[0]!;
        await yieldTurn();
      }
    }
  };
  const all = Array.from({ length: tasks }, task);
  return async () => {
    running = false;
    await Promise.all(all);
    if (sink === Number.NEGATIVE_INFINITY) process.stdout.write('');
  };
}
