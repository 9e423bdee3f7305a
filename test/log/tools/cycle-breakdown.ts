/**
 * Where a group-commit cycle goes: runs N concurrent appenders (the lab's throughput case: 256-byte
 * records, each appender awaiting its record and yielding once) with the log's cycle trace on
 * (src/log/trace.ts), and prints each step of the cycle, p50 and p90 in microseconds.
 *
 *   node dist/test/log/tools/cycle-breakdown.js [appenders=64] [durationMs=2000] [dir=os.tmpdir()]
 *
 * A cycle runs from one batch's DURABLE_LSN publication to the next one's:
 *   notice        the writer's publication -> the main thread's acknowledgement callback starts
 *   ack           resolving the acknowledged appends
 *   toFirstAppend -> the first append of the next burst (the appenders' continuations)
 *   burst         first -> last append of the records the next batch takes
 *   sealToBatch   last append -> the writer has assembled the batch (seal, wake-up, checksums)
 *   writev, fdatasync, publish   the writer's I/O and the publication
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Wal, type WalOptions } from '../../../src/log/index.js';
import { TraceEvent } from '../../../src/log/trace.js';
import { kTestHooks } from '../../../src/log/wal.js';

export interface TraceBuffers {
  main: SharedArrayBuffer;
  writer: SharedArrayBuffer;
}

/** Room for `stamps` stamps per thread. */
export function traceBuffers(stamps: number): TraceBuffers {
  const bytes = 8 * (1 + 3 * stamps);
  return { main: new SharedArrayBuffer(bytes), writer: new SharedArrayBuffer(bytes) };
}

export interface Stamp {
  timeNs: number;
  event: number;
  value: number;
}

export function readStamps(buffer: SharedArrayBuffer): Stamp[] {
  const slots = new Float64Array(buffer);
  const stamps: Stamp[] = [];
  for (let index = 0; index < slots[0]!; index++)
    stamps.push({
      timeNs: slots[1 + 3 * index]!,
      event: slots[2 + 3 * index]!,
      value: slots[3 + 3 * index]!,
    });
  return stamps;
}

/** One batch as the writer stamped it (ns). */
export interface TracedBatch {
  start: number;
  gathered: number;
  taken: number;
  written: number;
  synced: number;
  published: number;
  records: number;
  lastLsn: number;
}

export function batchesOf(writer: readonly Stamp[]): TracedBatch[] {
  const batches: TracedBatch[] = [];
  let current: Partial<TracedBatch> | undefined;
  for (const { timeNs, event, value } of writer) {
    if (event === TraceEvent.BATCH_START) current = { start: timeNs };
    else if (current === undefined) continue;
    else if (event === TraceEvent.GATHERED) current.gathered = timeNs;
    else if (event === TraceEvent.BATCH_TAKEN) {
      current.taken = timeNs;
      current.records = value;
    } else if (event === TraceEvent.WRITTEN) current.written = timeNs;
    else if (event === TraceEvent.SYNCED) current.synced = timeNs;
    else if (event === TraceEvent.PUBLISHED) {
      current.published = timeNs;
      current.lastLsn = value;
      batches.push(current as TracedBatch);
      current = undefined;
    }
  }
  return batches;
}

export type CycleStep =
  | 'cycle'
  | 'notice'
  | 'ack'
  | 'toFirstAppend'
  | 'burst'
  | 'sealToBatch'
  | 'writev'
  | 'fdatasync'
  | 'publish';
export const CYCLE_STEPS: readonly CycleStep[] = [
  'cycle',
  'notice',
  'ack',
  'toFirstAppend',
  'burst',
  'sealToBatch',
  'writev',
  'fdatasync',
  'publish',
];

/** Each cycle's steps in ns, for the cycles whose stamps are all there. */
export function cyclesOf(main: readonly Stamp[], writer: readonly Stamp[]): Record<CycleStep, number>[] {
  const batches = batchesOf(writer);
  const acks: { start: number; end: number; durable: number }[] = [];
  const appendedAt = new Map<number, number>();
  for (const { timeNs, event, value } of main) {
    if (event === TraceEvent.ACK_START) acks.push({ start: timeNs, end: Number.NaN, durable: value });
    else if (event === TraceEvent.ACK_END && acks.length > 0) acks[acks.length - 1]!.end = timeNs;
    else if (event === TraceEvent.APPEND) appendedAt.set(value, timeNs);
  }
  const cycles: Record<CycleStep, number>[] = [];
  let ackIndex = 0;
  for (let index = 0; index + 1 < batches.length; index++) {
    const batch = batches[index]!;
    const next = batches[index + 1]!;
    while (ackIndex < acks.length && acks[ackIndex]!.start < batch.published) ackIndex++;
    const ack = acks[ackIndex];
    // the burst of the next batch: the appends after this batch's LSN up to the next one's
    const firstAppend = appendedAt.get(batch.lastLsn + 1);
    const lastAppend = appendedAt.get(next.lastLsn);
    if (
      ack === undefined ||
      ack.durable < batch.lastLsn ||
      firstAppend === undefined ||
      lastAppend === undefined
    )
      continue;
    cycles.push({
      cycle: next.published - batch.published,
      notice: ack.start - batch.published,
      ack: ack.end - ack.start,
      toFirstAppend: firstAppend - ack.end,
      burst: lastAppend - firstAppend,
      sealToBatch: next.taken - lastAppend,
      writev: next.written - next.taken,
      fdatasync: next.synced - next.written,
      publish: next.published - next.synced,
    });
  }
  return cycles;
}

function percentileUs(values: number[], fraction: number): string {
  const sorted = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (sorted.length === 0) return '-';
  return (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))]! / 1000).toFixed(1);
}

async function main(): Promise<void> {
  const appenders = Number(process.argv[2] ?? 64);
  const durationMs = Number(process.argv[3] ?? 2000);
  const root = mkdtempSync(path.join(process.argv[4] ?? os.tmpdir(), 'sluice-cycle-'));
  const trace = traceBuffers(1 << 22);
  const wal = await Wal.open(path.join(root, 'wal'), { [kTestHooks]: { trace } } as WalOptions);
  let records = 0;
  const started = performance.now();
  const deadline = started + durationMs;
  const appender = async (index: number): Promise<void> => {
    const record = Buffer.alloc(256, index);
    while (performance.now() < deadline) {
      await wal.append(record);
      records++;
      await Promise.resolve();
    }
  };
  await Promise.all(Array.from({ length: appenders }, (_, index) => appender(index)));
  const seconds = (performance.now() - started) / 1000;
  const { batches } = wal.stats;
  await wal.close();
  rmSync(root, { recursive: true, force: true });
  const writer = readStamps(trace.writer);
  const cycles = cyclesOf(readStamps(trace.main), writer);
  const steps = writer.filter((stamp) => stamp.event === TraceEvent.PREALLOCATE).length;
  console.log(
    `${appenders} appenders: ${Math.round(records / seconds)} records/s, ${batches} batches, ` +
      `${(records / batches).toFixed(1)} records/batch, ${steps} zero-fill steps, ${cycles.length} cycles traced`,
  );
  console.log('step            p50 us   p90 us');
  for (const step of CYCLE_STEPS) {
    const values = cycles.map((cycle) => cycle[step]);
    console.log(
      `${step.padEnd(14)} ${percentileUs(values, 0.5).padStart(7)}  ${percentileUs(values, 0.9).padStart(7)}`,
    );
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
