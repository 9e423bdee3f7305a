/**
 * The hand-off between the main thread and the writer thread (docs/log.md, "How a cycle works"):
 * appenders in bursts, turns sealed with setImmediate, the writer woken only when it waits, close in
 * the middle of it all. Invariants only: what resolves, in which order, and what is on disk.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import {
  encodeSegmentHeader,
  FORMAT_VERSION,
  SEGMENT_HEADER_BYTES,
  segmentName,
} from '../../src/log/format.js';
import { Wal, type WalOptions } from '../../src/log/index.js';
import { codeOf, expectedRecord, smallWal, tempDirsRemovedAfter } from './helpers.js';

const freshDir = tempDirsRemovedAfter();

async function replayAll(dir: string, options: WalOptions): Promise<{ lsn: number; data: Buffer }[]> {
  const wal = await Wal.open(dir, options);
  const records: { lsn: number; data: Buffer }[] = [];
  for await (const record of wal.replay()) records.push(record);
  await wal.close();
  return records;
}

/**
 * Blocks the event loop (no turn ends, so no seal) until the log says `lsn` is durable; false if it
 * never does within `limitMs` (a safety limit for a hung writer, not a timing assertion).
 */
function busyUntilDurable(wal: Wal, lsn: number, limitMs = 20_000): boolean {
  const start = Date.now();
  while (wal.durableLsn < lsn) if (Date.now() - start > limitMs) return false;
  return true;
}

test('many appenders in lockstep, closed in the middle: accepted appends resolve gapless, later ones reject, the disk agrees', async () => {
  const dir = freshDir();
  // room for every appender's record, so each append enters the ring at once and gets nextLsn
  const options: WalOptions = { ...smallWal, maxBytesInFlight: 64 * 1024 };
  const wal = await Wal.open(dir, options);
  const resolved: number[] = [];
  const rejected: unknown[] = [];
  let closeCalled = false;
  let triedAfterClose = 0;
  const appender = async (): Promise<void> => {
    for (;;) {
      const lsnExpected = wal.stats.nextLsn;
      const append = wal.append(expectedRecord(lsnExpected));
      if (closeCalled) triedAfterClose++;
      try {
        const lsn = await append;
        assert.equal(lsn, lsnExpected);
        resolved.push(lsn);
      } catch (error) {
        rejected.push(error);
        return;
      }
    }
  };
  const appenders = Array.from({ length: 64 }, appender);
  // let several bursts go through, then close while appends are in flight
  while (wal.stats.batches < 20) await yieldToLoop();
  closeCalled = true;
  const closing = wal.close();
  await Promise.all(appenders);
  await closing;

  assert.equal(rejected.length, 64, 'every appender ends with exactly one rejection');
  assert.ok(rejected.every(codeOf('SLUICE_ERR_WAL_CLOSED')), String(rejected[0]));
  assert.equal(triedAfterClose, 64, 'each appender tried once after close');
  const sorted = [...resolved].sort((a, b) => a - b);
  assert.deepEqual(
    sorted,
    Array.from({ length: resolved.length }, (_, index) => index + 1),
    'the resolved LSNs are 1..n without gaps or repeats',
  );
  const onDisk = await replayAll(dir, options);
  assert.equal(onDisk.length, resolved.length, 'the log holds exactly the acknowledged records');
  for (const record of onDisk) assert.deepEqual(record.data, expectedRecord(record.lsn));
});

test('acknowledgements come in LSN order and only once durableLsn covers them, across bursts and turns', async () => {
  const dir = freshDir();
  const wal = await Wal.open(dir, { ...smallWal, maxBytesInFlight: 64 * 1024 });
  const order: number[] = [];
  const violations: string[] = [];
  const appendAndCheck = (data: Buffer): Promise<void> =>
    wal.append(data).then((lsn) => {
      if (wal.durableLsn < lsn) violations.push(`LSN ${lsn} resolved with durableLsn ${wal.durableLsn}`);
      order.push(lsn);
    });
  const pending: Promise<void>[] = [];
  for (let turn = 0; turn < 40; turn++) {
    // bursts of different sizes, some from timers, some from immediates
    for (let index = 0; index < (turn % 7) * 9 + 1; index++)
      pending.push(appendAndCheck(Buffer.alloc(100, turn)));
    if (turn % 2 === 0) await yieldToLoop();
    else await new Promise((resolve) => setTimeout(resolve, 0));
  }
  await Promise.all(pending);
  assert.deepEqual(violations, []);
  assert.deepEqual(
    order,
    Array.from({ length: order.length }, (_, index) => index + 1),
    'resolved in LSN order',
  );
  assert.ok(wal.stats.batches < order.length, `${wal.stats.batches} batches for ${order.length} records`);
  await wal.close();
});

test('records become durable while the turn that appended them is still running (no seal needed)', async () => {
  const dir = freshDir();
  const wal = await Wal.open(dir, smallWal);
  const burst = (): Promise<number[]> =>
    Promise.all(Array.from({ length: 32 }, (_, index) => wal.append(`burst ${index}`)));
  // Each case follows a burst, so the writer expects the next burst and waits for a seal that the
  // long turn withholds; it must write anyway.
  await burst();
  let last = wal.stats.nextLsn - 1;
  const several = Array.from({ length: 10 }, (_, index) => wal.append(`long turn ${index}`));
  assert.ok(busyUntilDurable(wal, last + 10), 'several records in a long turn');
  assert.deepEqual(
    await Promise.all(several),
    Array.from({ length: 10 }, (_, index) => last + 1 + index),
  );

  await burst();
  last = wal.stats.nextLsn - 1;
  const single = wal.append('alone in a long turn');
  assert.ok(busyUntilDurable(wal, last + 1), 'a lone record in a long turn');
  assert.equal(await single, last + 1);

  // More than a batch's worth (maxBatchBytes is 4096) in one long turn, all of it in the ring
  // (30 x 216 bytes, the ring holds 8192; appends beyond the ring would wait for this turn to end).
  await burst();
  last = wal.stats.nextLsn - 1;
  const full = Array.from({ length: 30 }, () => wal.append(Buffer.alloc(200)));
  assert.ok(busyUntilDurable(wal, last + 30), 'two batches of records in a long turn');
  assert.equal((await Promise.all(full)).at(-1), last + 30);
  await wal.close();
});

test('backpressure: bytes in flight never exceed maxBytesInFlight with large records from many appenders', async () => {
  const dir = freshDir();
  const options: WalOptions = { segmentSize: 64 * 1024, maxBatchBytes: 4096, maxBytesInFlight: 8192 };
  const wal = await Wal.open(dir, options);
  let peak = 0;
  const watch = (): void => {
    peak = Math.max(peak, wal.stats.bytesInFlight);
  };
  const appender = async (id: number): Promise<number[]> => {
    const lsns: number[] = [];
    for (let index = 0; index < 30; index++) {
      // 4080-byte payloads frame to the whole batch bound: two of them fill the ring
      const lsn = await wal.append(Buffer.alloc(index % 3 === 0 ? 4080 : 300, id));
      watch();
      lsns.push(lsn);
    }
    return lsns;
  };
  const perAppender = await Promise.all(Array.from({ length: 16 }, (_, id) => appender(id)));
  watch();
  assert.ok(peak <= 8192, `bytes in flight peaked at ${peak}`);
  for (const lsns of perAppender)
    assert.deepEqual(
      lsns,
      [...lsns].sort((a, b) => a - b),
      'each appender sees its LSNs increase',
    );
  await wal.close();
  const onDisk = await replayAll(dir, options);
  assert.equal(onDisk.length, 16 * 30);
  for (const record of onDisk) assert.ok(record.data.length === 4080 || record.data.length === 300);
});

test('the active segment is zero-filled ahead of the records while idle, and only with preallocate', async () => {
  const segmentSize = 1024 * 1024;
  for (const preallocate of [true, false]) {
    const dir = freshDir();
    const options: WalOptions = { segmentSize, maxBatchBytes: 4096, preallocate };
    const wal = await Wal.open(dir, options);
    await Promise.all(Array.from({ length: 20 }, (_, index) => wal.append(expectedRecord(index + 1))));
    const [active] = readdirSync(dir).filter((name) => name.endsWith('.wal'));
    const activePath = path.join(dir, active!);
    if (preallocate) {
      // idle now: zero-filling reaches the end of the segment (bounded wait for the writer's steps)
      const start = Date.now();
      while (statSync(activePath).size < segmentSize && Date.now() - start < 20_000) await yieldToLoop();
      assert.equal(statSync(activePath).size, segmentSize);
    }
    await wal.close();
    if (!preallocate) assert.ok(statSync(activePath).size < 8192, 'no zero-filling without preallocate');
    // the zeros after the last record end the log: everything is recovered, nothing torn
    const onDisk = await replayAll(dir, options);
    assert.equal(onDisk.length, 20);
    for (const record of onDisk) assert.deepEqual(record.data, expectedRecord(record.lsn));
    const reopened = await Wal.open(dir, options);
    assert.equal(reopened.stats.recovered.tornBytes, 0);
    await reopened.close();
  }
});

test('LSNs past 2^32 are framed, made durable and recovered (the ring writes the high word)', async () => {
  const dir = freshDir();
  const firstLsn = 2 ** 32 - 5;
  // an empty log whose segment starts just below 2^32
  const header = encodeSegmentHeader({
    version: FORMAT_VERSION,
    maxBatchBytes: smallWal.maxBatchBytes!,
    firstLsn,
    segmentSize: smallWal.segmentSize!,
  });
  writeFileSync(path.join(dir, segmentName(firstLsn)), Buffer.concat([header, Buffer.alloc(64)]));
  const wal = await Wal.open(dir, smallWal);
  assert.equal(wal.stats.nextLsn, firstLsn);
  const lsns = await Promise.all(Array.from({ length: 12 }, (_, index) => wal.append(`record ${index}`)));
  assert.deepEqual(
    lsns,
    Array.from({ length: 12 }, (_, index) => firstLsn + index),
  );
  await wal.close();
  const onDisk = await replayAll(dir, smallWal);
  assert.deepEqual(
    onDisk.map((record) => [record.lsn, record.data.toString()]),
    Array.from({ length: 12 }, (_, index) => [firstLsn + index, `record ${index}`]),
  );
  assert.ok(statSync(path.join(dir, segmentName(firstLsn))).size > SEGMENT_HEADER_BYTES);
});
