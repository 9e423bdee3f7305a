/**
 * One measured case of the `tasks` experiment, run in its own process (`runInChild`): drain N
 * trivial async tasks at concurrency C through one variant while a 1 ms interval timer probes the
 * event loop. The probe's worst gap beyond its 1 ms period is `maxLagMs`; the final gap (from the
 * last tick to the end of the drain) counts too, so a drain that never lets the timer run at all
 * reports its whole duration as lag.
 */
import { performance } from 'node:perf_hooks';
import pLimit from 'p-limit';
import pMap from 'p-map';
import PQueue from 'p-queue';
import { limit, mapBounded, TaskSet } from 'sluice/tasks';

/**
 * How the trivial tasks settle. `at-once`: each is an async function that returns at once, so a
 * whole batch settles in one microtask flush. `one-at-a-time`: task i settles one microtask after
 * task i - 1 (a promise chain), as tasks finishing at distinct moments do; this is what makes a
 * `Promise.race` pool pay for every pending promise at each completion.
 */
export type Settle = 'at-once' | 'one-at-a-time';

export interface TasksCaseArgs {
  variant: string;
  settle: Settle;
  n: number;
  concurrency: number;
  /** Tasks drained first, unmeasured, so that every variant runs JIT-compiled code. */
  warmupTasks: number;
  /**
   * Measured drains in this process; `ms` is their median and `maxLagMs` their worst. Small N
   * drain several times so that a figure is not one scheduler hiccup on a shared machine.
   */
  drains: number;
}

async function atOnce(value: number): Promise<number> {
  return value;
}

let tail: Promise<unknown> = Promise.resolve();
function oneAtATime(value: number): Promise<number> {
  const settled = tail.then(() => value);
  tail = settled;
  return settled;
}

/** How tasks settle (set per case). */
let trivial: (value: number) => Promise<number> = atOnce;

/**
 * The task every variant runs: one shared function, so that no variant pays for a closure per
 * task and the figures show the scheduler's own cost.
 */
function task(): Promise<number> {
  return trivial(1);
}

function* indexes(n: number): Generator<number> {
  for (let index = 0; index < n; index++) yield index;
}

/**
 * The pitfall: a pool that awaits `Promise.race` over every pending promise at each completion.
 * Each race adds a reaction to every pending promise (O(pending) per completion), and the
 * reactions stay on a promise until it settles.
 */
async function promiseRacePool(n: number, concurrency: number): Promise<number> {
  const pending = new Set<Promise<void>>();
  let completed = 0;
  for (let index = 0; index < n; index++) {
    const promise: Promise<void> = trivial(index).then(() => {
      completed++;
      pending.delete(promise);
    });
    pending.add(promise);
    if (pending.size >= concurrency) await Promise.race(pending);
  }
  // Consume the rest as they settle, as a TaskSet iteration does.
  while (pending.size > 0) await Promise.race(pending);
  return completed;
}

async function viaPLimit(n: number, concurrency: number): Promise<number> {
  const limited = pLimit(concurrency);
  const all = new Array<Promise<number>>(n);
  for (let index = 0; index < n; index++) all[index] = limited(task);
  return (await Promise.all(all)).length;
}

async function viaPMap(n: number, concurrency: number): Promise<number> {
  return (await pMap(indexes(n), trivial, { concurrency })).length;
}

async function viaPQueue(n: number, concurrency: number): Promise<number> {
  const queue = new PQueue({ concurrency });
  let completed = 0;
  const count = (): void => {
    completed++;
  };
  for (let index = 0; index < n; index++) void queue.add(task).then(count);
  await queue.onIdle();
  return completed;
}

async function viaSluiceLimit(n: number, concurrency: number): Promise<number> {
  const limited = limit(concurrency);
  const all = new Array<Promise<number>>(n);
  for (let index = 0; index < n; index++) all[index] = limited(task);
  return (await Promise.all(all)).length;
}

async function viaSluiceTaskSet(n: number, concurrency: number): Promise<number> {
  const set = new TaskSet<number>({ concurrency });
  for (let index = 0; index < n; index++) set.add(task);
  let completed = 0;
  for await (const _ of set) completed++;
  return completed;
}

async function viaSluiceMapBounded(n: number, concurrency: number): Promise<number> {
  let completed = 0;
  for await (const _ of mapBounded(indexes(n), trivial, { concurrency })) completed++;
  return completed;
}

const variants: Record<string, (n: number, concurrency: number) => Promise<number>> = {
  'promise-race-pool': promiseRacePool,
  'p-limit': viaPLimit,
  'p-map': viaPMap,
  'p-queue': viaPQueue,
  'sluice-limit': viaSluiceLimit,
  'sluice-taskset': viaSluiceTaskSet,
  'sluice-map-bounded': viaSluiceMapBounded,
};

/** One drain with the lag probe running: its duration and the probe's worst delay. */
async function measuredDrain(
  run: (n: number, concurrency: number) => Promise<number>,
  args: TasksCaseArgs,
): Promise<{ ms: number; maxLagMs: number }> {
  let maxLagMs = 0;
  let lastTick = performance.now();
  const probe = setInterval(() => {
    const now = performance.now();
    maxLagMs = Math.max(maxLagMs, now - lastTick - 1);
    lastTick = now;
  }, 1);
  const started = performance.now();
  const completed = await run(args.n, args.concurrency);
  const ended = performance.now();
  clearInterval(probe);
  maxLagMs = Math.max(maxLagMs, ended - lastTick - 1);
  if (completed !== args.n) throw new Error(`${args.variant} completed ${completed} of ${args.n} tasks`);
  return { ms: ended - started, maxLagMs: Math.max(0, maxLagMs) };
}

export async function runTasksCase(args: TasksCaseArgs): Promise<Record<string, number>> {
  const run = variants[args.variant];
  if (run === undefined) throw new Error(`unknown variant ${args.variant}`);
  trivial = args.settle === 'one-at-a-time' ? oneAtATime : atOnce;
  if (args.warmupTasks > 0) await run(args.warmupTasks, args.concurrency);
  const durations: number[] = [];
  let maxLagMs = 0;
  for (let drain = 0; drain < args.drains; drain++) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    const measured = await measuredDrain(run, args);
    durations.push(measured.ms);
    maxLagMs = Math.max(maxLagMs, measured.maxLagMs);
  }
  durations.sort((a, b) => a - b);
  const ms = durations[durations.length >> 1]!;
  return {
    ms,
    tasksPerS: (args.n / ms) * 1000,
    nsPerTask: (ms * 1e6) / args.n,
    maxLagMs,
  };
}
