/**
 * `wal` (seed 002): a write-ahead log on the critical path. Part one is the seed's experiment: each
 * iteration makes 10 writes of 25,600 bytes durable one after the other, with the event loop idle
 * and under the seed's stress (1000 tasks sorting 100 random numbers and sleeping 1 ms), written
 * sync in the loop, with fs.promises (libuv threadpool), and with sluice's writer thread. Part two
 * is durable throughput: 64 concurrent appenders of 256-byte records against better-sqlite3 (WAL,
 * synchronous=FULL, one transaction per record) and lmdb (commit, then `flushed`).
 * `--crash N` runs N crash trials instead (see wal-crash.ts).
 */
import { statfsSync } from 'node:fs';
import { dataDir } from '../harness/data.js';
import { type Case, measureInterleaved, selected } from '../harness/measure.js';
import { runInChild } from '../harness/process.js';
import { makeRow, round } from '../harness/stats.js';
import type { Experiment, ExperimentResult, Metrics, Row } from '../harness/types.js';
import {
  type LatencyArgs,
  type LatencyVariant,
  type Load,
  lmdbAvailable,
  type ThroughputArgs,
  type ThroughputVariant,
} from './wal-cases.js';
import { crashTrials } from './wal-crash.js';

const LATENCY_VARIANTS: readonly LatencyVariant[] = ['sync-in-loop', 'fs-promises', 'sluice-wal'];
const THROUGHPUT_VARIANTS: readonly ThroughputVariant[] = [
  'better-sqlite3-full',
  'lmdb-flushed',
  'sluice-wal',
];
const LOADS: readonly Load[] = ['none', 'stress'];
const LATENCY_METRICS = ['p50Ms', 'p95Ms', 'p99Ms', 'maxMs'] as const;
const casesModule = new URL('./wal-cases.js', import.meta.url);

/** Names of the file systems the data dir may be on (statfs f_type, from linux/magic.h). */
const FILE_SYSTEMS: Record<number, string> = {
  61267: 'ext2/ext3/ext4',
  16914836: 'tmpfs',
  1481003842: 'xfs',
  2435016766: 'btrfs',
  2035054128: 'overlayfs',
  801189825: 'zfs',
};

function fileSystemOf(dir: string): string {
  try {
    const type = statfsSync(dir).type;
    return FILE_SYSTEMS[type] ?? `statfs type 0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/**
 * The N of `--crash N`. The lab CLI parses unknown flags leniently, so `--crash 500` arrives as
 * `true` with `500` as a stray positional; `--crash=500` arrives as the string.
 */
function crashCount(flag: string | boolean): number {
  if (typeof flag === 'string') return Number(flag);
  const index = process.argv.indexOf('--crash');
  const next = index === -1 ? undefined : process.argv[index + 1];
  return next !== undefined && /^\d+$/.test(next) ? Number(next) : 1000;
}

/** One child run gives both views of an iteration; split it into an `at: resolved` and an `at: durable` row. */
function splitLatencyRow(row: Row): Row[] {
  const { variant, dims } = row;
  const pick = (run: Metrics, durable: boolean): Metrics => {
    const metrics: Metrics = {};
    for (const name of LATENCY_METRICS) {
      const key = durable ? `durable${name[0]!.toUpperCase()}${name.slice(1)}` : name;
      metrics[name] = run[key]!;
    }
    metrics.recordsPerS = run.recordsPerS!;
    return metrics;
  };
  const rows = [
    makeRow(
      variant,
      { ...dims, at: 'resolved' },
      row.runs.map((run) => pick(run, false)),
    ),
  ];
  // fs.promises' fdatasync completes on a threadpool thread; JS cannot see that moment.
  if (variant !== 'fs-promises')
    rows.push(
      makeRow(
        variant,
        { ...dims, at: 'durable' },
        row.runs.map((run) => pick(run, true)),
      ),
    );
  return rows;
}

export const wal: Experiment = {
  name: 'wal',
  seed: '002_880724598da95172.txt',
  title: 'durable WAL writes under event-loop load; durable records/s',
  description:
    'Each iteration makes 10 writes of 25,600 bytes durable (write + fdatasync) one after the other, with the ' +
    "event loop idle and under the seed's stress (1000 tasks sorting 100 random numbers and sleeping 1 ms): sync " +
    'calls in the loop, fs.promises, and sluice/log (a writer thread, group commit). Both when the data was ' +
    'durable and when the caller saw it are reported. Then 64 concurrent appenders of 256-byte records: ' +
    'better-sqlite3 (WAL, synchronous=FULL, a transaction per record), lmdb (commit, then flushed), sluice/log.',
  variants: [...new Set([...LATENCY_VARIANTS, ...THROUGHPUT_VARIANTS])],
  baseline: 'sync-in-loop',
  metrics: ['p50Ms', 'p95Ms', 'p99Ms', 'maxMs', 'recordsPerS'],
  headline: { metric: 'p99Ms', higherIsBetter: false },
  async run(context): Promise<ExperimentResult> {
    const dir = dataDir();
    const fileSystem = fileSystemOf(dir);
    const notes: string[] = [
      `Data files are written in ${dir} (${fileSystem}), created fresh for each run and removed after it.`,
    ];
    if (context.flags.crash !== undefined) {
      const trials = Number(crashCount(context.flags.crash));
      if (!Number.isSafeInteger(trials) || trials < 1)
        throw new Error(`--crash needs a count of trials; got ${String(context.flags.crash)}`);
      const started = performance.now();
      const summary = await crashTrials(dir, trials, context.progress);
      const seconds = (performance.now() - started) / 1000;
      notes.push(
        `${summary.trials} SIGKILL trials: ${summary.lostRecords} acknowledged records lost, ${summary.corruptRecords} corrupt; ` +
          `${summary.acknowledged} records acknowledged in all; ${summary.unacknowledgedSurvivors} records written but not yet acknowledged when killed survived (allowed).`,
      );
      return {
        experiment: 'wal',
        params: { crashTrials: trials, dir, fileSystem },
        env: {} as ExperimentResult['env'],
        rows: [
          makeRow('sluice-wal', { phase: 'crash' }, [
            {
              trials: summary.trials,
              lostRecords: summary.lostRecords,
              corruptRecords: summary.corruptRecords,
              acknowledged: summary.acknowledged,
              trialsPerS: round(summary.trials / seconds),
            },
          ]),
        ],
        notes,
      };
    }

    const iterations = context.quick ? 20 : 200;
    const durationMs = context.quick ? 300 : 2000;
    const latencyCases: Case[] = [];
    for (const load of LOADS) {
      for (const variant of LATENCY_VARIANTS) {
        if (!selected(context, variant)) continue;
        const args: LatencyArgs = { variant, load, iterations, dir };
        latencyCases.push({
          variant,
          dims: { phase: 'latency', load },
          run: () => runInChild(casesModule, 'latencyCase', args, { timeoutMs: 300_000 }),
        });
      }
    }
    const lmdbMissing = await lmdbAvailable();
    const throughputCases: Case[] = THROUGHPUT_VARIANTS.filter((variant) => selected(context, variant)).map(
      (variant) => {
        const args: ThroughputArgs = { variant, appenders: 64, recordBytes: 256, durationMs, dir };
        const entry: Case = {
          variant,
          dims: { phase: 'throughput', appenders: 64 },
          run: async () => {
            const { p50Ms, p95Ms, p99Ms, maxMs, recordsPerS } = await runInChild(
              casesModule,
              'throughputCase',
              args,
              {
                timeoutMs: 120_000,
              },
            );
            return { p50Ms: p50Ms!, p95Ms: p95Ms!, p99Ms: p99Ms!, maxMs: maxMs!, recordsPerS: recordsPerS! };
          },
        };
        if (variant === 'lmdb-flushed' && lmdbMissing !== undefined) entry.skipped = lmdbMissing;
        return entry;
      },
    );
    const latencyRows = (await measureInterleaved(latencyCases, context)).flatMap((row) =>
      row.skipped === undefined ? splitLatencyRow(row) : [row],
    );
    const throughputRows = await measureInterleaved(throughputCases, context);
    const sqlite = throughputRows.find(
      (row) => row.variant === 'better-sqlite3-full' && row.skipped === undefined,
    );
    if (sqlite !== undefined) {
      for (const row of throughputRows) {
        if (row.skipped !== undefined) continue;
        row.ratio = {};
        for (const [name, value] of Object.entries(row.median)) {
          const base = sqlite.median[name];
          if (base !== undefined && base !== 0) row.ratio[name] = round(value / base);
        }
      }
      notes.push('Throughput rows: ratios are to better-sqlite3-full (the latency rows: to sync-in-loop).');
    }
    const find = (variant: string, load: Load, at: string): Row | undefined =>
      latencyRows.find(
        (row) =>
          row.variant === variant &&
          row.dims.load === load &&
          row.dims.at === at &&
          row.skipped === undefined,
      );
    for (const variant of LATENCY_VARIANTS) {
      const calm = find(variant, 'none', 'resolved');
      const stressed = find(variant, 'stress', 'resolved');
      if (calm && stressed) {
        notes.push(
          `${variant}: under stress, p50 x${round(stressed.median.p50Ms! / calm.median.p50Ms!)}, ` +
            `p99 x${round(stressed.median.p99Ms! / calm.median.p99Ms!)} its no-load figures (resolved).`,
        );
      }
    }
    notes.push(
      'at=resolved: until the last of the 10 promises resolved (what the caller sees); at=durable: until the last ' +
        'fdatasync returned (sluice-wal: stamped by its writer thread; sync-in-loop: the same moment). fs-promises ' +
        'has no durable row: its fdatasync ends on a libuv threadpool thread, invisible to JS until the callback runs.',
      'The machine is shared (2 cores): compare rows of one run, not absolute times.',
      'The seed (tokio, Samsung 980 Pro), ms per iteration, median/p95/max: no load: sync in runtime ' +
        '5.50/5.89/7.14, async 5.91/7.08/8.97, thread 5.54/5.74/8.97; stress: 5.91/6.20/10.35, ' +
        '10.00/10.61/18.06, 5.34/5.71/6.95.',
    );
    return {
      experiment: 'wal',
      params: {
        iterations,
        writesPerIteration: 10,
        writeBytes: 25_600,
        stressTasks: 1000,
        appenders: 64,
        recordBytes: 256,
        throughputDurationMs: durationMs,
        dir,
        fileSystem,
        runs: context.runs,
      },
      env: {} as ExperimentResult['env'],
      rows: [...latencyRows, ...throughputRows],
      notes,
    };
  },
};
