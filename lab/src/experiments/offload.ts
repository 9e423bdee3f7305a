/**
 * `offload` (seed 002, second experiment): is handing a short synchronous operation to another
 * thread worth it? A 100-key insert into an in-memory table (the seed's RocksDB memtable write)
 * called directly, through a pool of worker threads with postMessage (the nearest Node has to
 * tokio's spawn_blocking), and through one dedicated worker woken with Atomics.
 */
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import type { Experiment, ExperimentResult } from '../harness/types.js';
import type { OffloadArgs, OffloadVariant } from './offload-cases.js';

const VARIANTS: readonly OffloadVariant[] = ['direct', 'threadpool', 'worker'];
const casesModule = new URL('./offload-cases.js', import.meta.url);

export const offload: Experiment = {
  name: 'offload',
  seed: '002_880724598da95172.txt',
  title: 'a short sync call: direct vs offloaded to a thread',
  description:
    'A 100-key insert into an in-memory table (1 KiB values; the seed put 100 keys into RocksDB, which only ' +
    'touches its memtable), called one at a time: directly, through a pool of worker threads with postMessage ' +
    '(the nearest Node has to spawn_blocking), and through one dedicated worker woken with Atomics.',
  variants: VARIANTS,
  baseline: 'direct',
  metrics: ['p50Us', 'meanUs'],
  headline: { metric: 'p50Us', higherIsBetter: false },
  async run(context): Promise<ExperimentResult> {
    const calls = context.quick ? 2000 : 20_000;
    const poolSize = 4;
    const cases: Case[] = VARIANTS.filter((variant) => selected(context, variant)).map((variant) => {
      const args: OffloadArgs = { variant, calls, poolSize };
      return {
        variant,
        dims: { keys: 100 },
        run: async () => {
          const { p50Us, meanUs } = await runInChild(casesModule, 'offloadCase', args, {
            timeoutMs: 120_000,
          });
          return { p50Us: p50Us!, meanUs: meanUs! };
        },
      };
    });
    const rows = await measureInterleaved(cases, context);
    return {
      experiment: 'offload',
      params: { calls, keysPerCall: 100, keyBytes: 256, valueBytes: 1024, poolSize, runs: context.runs },
      env: {} as ExperimentResult['env'],
      rows,
      notes: [
        'Each call is timed from the call to its result, one call at a time, after 1000 unmeasured calls.',
        "threadpool: 4 worker threads (libuv's default pool size), requests round-robin by postMessage; worker: one " +
          'dedicated thread parked in Atomics.wait, the reply awaited with Atomics.waitAsync.',
        'The machine is shared (2 cores): compare rows of one run, not absolute times.',
      ],
    };
  },
};
