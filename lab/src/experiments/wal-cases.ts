/**
 * The measured side of `wal`, run in a fresh child process per case (see wal.ts).
 */
import { closeSync, fdatasyncSync, mkdirSync, openSync, rmSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises';
import { Wal } from 'sluice/log';
import { randomBlock } from '../harness/data.js';
import { percentile } from '../harness/stats.js';
import type { Metrics } from '../harness/types.js';

export type LatencyVariant = 'sync-in-loop' | 'fs-promises' | 'sluice-wal';
export type ThroughputVariant = 'better-sqlite3-full' | 'lmdb-flushed' | 'sluice-wal';
export type Load = 'none' | 'stress';

/** The seed's unit of work: 10 x (a 25,600-byte write + fdatasync). */
export const WRITES_PER_ITERATION = 10;
export const WRITE_BYTES = 25_600;

/**
 * The seed's stress: 1000 tasks, each forever sorting 100 random numbers and sleeping 1 ms.
 * Returns a function that stops them and resolves once they all ended.
 */
function startStress(tasks: number): () => Promise<void> {
  let running = true;
  const task = async (): Promise<void> => {
    while (running) {
      const numbers = Array.from({ length: 100 }, Math.random);
      numbers.sort((a, b) => a - b);
      await sleep(1);
    }
  };
  const all = Array.from({ length: tasks }, task);
  return async () => {
    running = false;
    await Promise.all(all);
  };
}

function summarize(prefix: string, samples: readonly number[]): Metrics {
  const key = (name: string): string =>
    prefix === '' ? name : `${prefix}${name[0]!.toUpperCase()}${name.slice(1)}`;
  return {
    [key('p50Ms')]: percentile(samples, 50),
    [key('p95Ms')]: percentile(samples, 95),
    [key('p99Ms')]: percentile(samples, 99),
    [key('maxMs')]: samples.reduce((max, sample) => Math.max(max, sample), 0),
  };
}

export interface LatencyArgs {
  variant: LatencyVariant;
  load: Load;
  iterations: number;
  dir: string;
}

/**
 * Per iteration: 10 durable writes of 25,600 bytes, each its own write + fdatasync. `p50Ms`... are the iteration times
 * until the last promise resolved (or the sync call returned); `durableP50Ms`... until the last
 * fdatasync returned (sluice-wal: the writer thread's timestamp; sync: the same moment).
 */
export async function latencyCase(args: LatencyArgs): Promise<Metrics> {
  const dir = path.join(args.dir, `latency-${args.variant}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const block = randomBlock(WRITE_BYTES, 7);
  const resolved: number[] = [];
  const durable: number[] = [];
  let cleanup = async (): Promise<void> => {};
  let iteration: () => Promise<number | undefined>;
  if (args.variant === 'sync-in-loop') {
    const fd = openSync(path.join(dir, 'log'), 'w');
    cleanup = async () => closeSync(fd);
    iteration = async () => {
      for (let write = 0; write < WRITES_PER_ITERATION; write++) {
        writeSync(fd, block);
        fdatasyncSync(fd);
      }
      return undefined;
    };
  } else if (args.variant === 'fs-promises') {
    const handle = await open(path.join(dir, 'log'), 'w');
    cleanup = () => handle.close();
    iteration = async () => {
      for (let write = 0; write < WRITES_PER_ITERATION; write++) {
        await handle.write(block);
        await handle.datasync();
      }
      return undefined;
    };
  } else {
    // One record per batch (maxBatchBytes = one framed record), so the writer thread does the seed's
    // 10 x (write + fdatasync) itself; the 10 records are handed over at once, as a caller with 10
    // independent records would, and nothing on the main thread stands between two of the syncs.
    const wal = await Wal.open(dir, { maxBatchBytes: 16 + WRITE_BYTES });
    cleanup = () => wal.close();
    const records = Array.from({ length: WRITES_PER_ITERATION }, () => wal);
    iteration = async () => {
      await Promise.all(records.map((log) => log.append(block)));
      return wal.stats.lastSyncAt;
    };
  }
  const stopStress = args.load === 'stress' ? startStress(1000) : undefined;
  if (stopStress !== undefined) await sleep(50); // let the stress reach its steady state
  const started = performance.now();
  for (let index = 0; index < args.iterations; index++) {
    const start = performance.now();
    const syncedAt = await iteration();
    const end = performance.now();
    resolved.push(end - start);
    durable.push(syncedAt === undefined ? end - start : syncedAt - (performance.timeOrigin + start));
    await yieldToLoop();
  }
  const elapsedS = (performance.now() - started) / 1000;
  await stopStress?.();
  await cleanup();
  rmSync(dir, { recursive: true, force: true });
  return {
    ...summarize('', resolved),
    ...summarize('durable', durable),
    recordsPerS: (args.iterations * WRITES_PER_ITERATION) / elapsedS,
  };
}

export interface ThroughputArgs {
  variant: ThroughputVariant;
  appenders: number;
  recordBytes: number;
  durationMs: number;
  dir: string;
}

interface Store {
  append(record: Buffer, key: number): Promise<void> | void;
  close(): Promise<void> | void;
}

const require = createRequire(import.meta.url);

async function openStore(variant: ThroughputVariant, dir: string): Promise<Store> {
  if (variant === 'better-sqlite3-full') {
    const Database = require('better-sqlite3') as typeof import('better-sqlite3');
    const db = new Database(path.join(dir, 'log.sqlite'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE log (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
    const insert = db.prepare('INSERT INTO log (id, data) VALUES (?, ?)');
    // one implicit transaction per statement: each record is its own durable commit
    return { append: (record, key) => void insert.run(key, record), close: () => void db.close() };
  }
  if (variant === 'lmdb-flushed') {
    const { open: openLmdb } = (await import('lmdb')) as typeof import('lmdb');
    const db = openLmdb<Buffer, number>({
      path: path.join(dir, 'log.mdb'),
      compression: false,
      encoding: 'binary',
    });
    return {
      append: async (record, key) => {
        await db.put(key, record);
        await db.flushed;
      },
      close: () => db.close(),
    };
  }
  const wal = await Wal.open(path.join(dir, 'wal'));
  return { append: async (record) => void (await wal.append(record)), close: () => wal.close() };
}

/** `appenders` concurrent loops, each appending a record and awaiting its durability, for `durationMs`. */
export async function throughputCase(args: ThroughputArgs): Promise<Metrics> {
  const dir = path.join(args.dir, `throughput-${args.variant}-${process.pid}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const store = await openStore(args.variant, dir);
  const latencies: number[] = [];
  let nextKey = 1;
  const started = performance.now();
  const deadline = started + args.durationMs;
  const appender = async (index: number): Promise<void> => {
    const record = randomBlock(args.recordBytes, index + 1);
    while (performance.now() < deadline) {
      const start = performance.now();
      await store.append(record, nextKey++);
      latencies.push(performance.now() - start);
      // a sync store would otherwise let one appender run alone until the deadline
      await Promise.resolve();
    }
  };
  await Promise.all(Array.from({ length: args.appenders }, (_, index) => appender(index)));
  const elapsedS = (performance.now() - started) / 1000;
  await store.close();
  rmSync(dir, { recursive: true, force: true });
  return { ...summarize('', latencies), recordsPerS: latencies.length / elapsedS, records: latencies.length };
}

/** Whether lmdb's native module loads here (its install script is not run; it needs the prebuilt). */
export async function lmdbAvailable(): Promise<string | undefined> {
  try {
    await import('lmdb');
    return undefined;
  } catch (error) {
    return `lmdb cannot load its native module: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  }
}
