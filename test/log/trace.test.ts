import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Wal, type WalOptions } from '../../src/log/index.js';
import { TraceEvent } from '../../src/log/trace.js';
import { kTestHooks } from '../../src/log/wal.js';
import { tempDirsRemovedAfter } from './helpers.js';
import { batchesOf, cyclesOf, readStamps, traceBuffers } from './tools/cycle-breakdown.js';

const freshDir = tempDirsRemovedAfter();

test('the cycle trace stamps every batch step in order, every append once, and acknowledgements after publication', async () => {
  const trace = traceBuffers(100_000);
  const wal = await Wal.open(freshDir(), { [kTestHooks]: { trace } } as WalOptions);
  let appended = 0;
  const appender = async (index: number): Promise<void> => {
    for (let round = 0; round < 50; round++) {
      await wal.append(Buffer.alloc(256, index));
      appended++;
    }
  };
  await Promise.all(Array.from({ length: 16 }, (_, index) => appender(index)));
  const { batches: batchCount } = wal.stats;
  await wal.close();

  const main = readStamps(trace.main);
  const writer = readStamps(trace.writer);
  const appends = main.filter((stamp) => stamp.event === TraceEvent.APPEND).map((stamp) => stamp.value);
  assert.deepEqual(
    appends,
    Array.from({ length: appended }, (_, index) => index + 1),
    'one APPEND stamp per record, in LSN order',
  );
  const batches = batchesOf(writer);
  assert.equal(batches.length, batchCount);
  assert.equal(
    batches.reduce((sum, batch) => sum + batch.records, 0),
    appended,
  );
  let previousLsn = 0;
  for (const batch of batches) {
    assert.ok(
      batch.start <= batch.gathered &&
        batch.gathered <= batch.taken &&
        batch.taken <= batch.written &&
        batch.written <= batch.synced &&
        batch.synced <= batch.published,
      'steps in order',
    );
    assert.equal(batch.lastLsn, previousLsn + batch.records, 'batches cover the LSNs without gaps');
    previousLsn = batch.lastLsn;
  }
  const acks = main.filter((stamp) => stamp.event === TraceEvent.ACK_START);
  for (const ack of acks) {
    const publication = batches.find((batch) => batch.lastLsn >= ack.value);
    // SYNCED is stamped before DURABLE_LSN is stored, PUBLISHED after
    if (publication !== undefined && publication.lastLsn === ack.value)
      assert.ok(ack.timeNs >= publication.synced, 'an acknowledgement follows the fdatasync it reports');
  }
  const cycles = cyclesOf(main, writer);
  assert.ok(cycles.length > 0, 'concurrent appenders make traceable cycles');
  for (const cycle of cycles) {
    assert.ok(cycle.cycle > 0);
    for (const step of ['writev', 'fdatasync', 'publish'] as const) assert.ok(cycle[step] >= 0, step);
  }
});

test('a full trace log drops later stamps and the log goes on', async () => {
  const trace = traceBuffers(10);
  const wal = await Wal.open(freshDir(), { [kTestHooks]: { trace } } as WalOptions);
  const lsns = await Promise.all(Array.from({ length: 100 }, (_, index) => wal.append(`record ${index}`)));
  assert.equal(lsns.at(-1), 100);
  await wal.close();
  assert.equal(readStamps(trace.main).length, 10, '100 APPEND stamps, the first 10 kept');
  assert.ok(readStamps(trace.writer).length <= 10);
});
