import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WriteBufferFullError } from '../../src/errors.js';
import { BatchWriter } from '../../src/write/index.js';
import { codeOf, GatedSink, turn } from './helpers.js';

const kib = (n: number) => Buffer.alloc(n * 1024, n);

test('write() returns false at the high-water mark and ready() resolves once below it', async () => {
  const sink = new GatedSink();
  const writer = new BatchWriter(sink, {
    slabSize: 1024,
    flushBytes: 2048,
    highWaterMark: 4096,
    maxBufferedBytes: 8192,
  });
  assert.equal(writer.write(kib(1)), true);
  assert.equal(writer.write(kib(1)), true, 'the threshold starts a write; 2 KiB buffered');
  assert.equal(sink.waiting, 1, 'a write started at flushBytes');
  assert.equal(writer.write(kib(1)), true);
  assert.equal(writer.write(kib(1)), false, '4 KiB buffered: at the high-water mark');
  assert.equal(sink.waiting, 1, 'at most one write in flight');
  let ready = false;
  const readyPromise = writer.ready().then(() => {
    ready = true;
  });
  await turn();
  assert.equal(ready, false);
  sink.complete(); // the first 2 KiB reach the "kernel"; the next batch starts at once
  await readyPromise;
  assert.equal(writer.bufferedBytes, 2048);
  assert.equal(sink.waiting, 1);
  sink.complete();
  const flushed = writer.flush();
  await flushed;
  assert.equal(Buffer.concat(sink.received).length, 4096);
  await writer.close();
});

test("the hard bound holds: 'wait' refuses and takes nothing", async () => {
  const sink = new GatedSink();
  const writer = new BatchWriter(sink, { slabSize: 1024, highWaterMark: 2048, maxBufferedBytes: 4096 });
  writer.write(kib(3));
  assert.throws(
    () => writer.write(kib(2)),
    (error: unknown) => {
      assert.ok(error instanceof WriteBufferFullError);
      assert.equal(error.code, 'SLUICE_ERR_WRITE_BUFFER_FULL');
      assert.equal(error.requestedBytes, 2048);
      assert.equal(error.bufferedBytes, 3072);
      return true;
    },
  );
  assert.equal(writer.bufferedBytes, 3072, 'nothing of the refused write was taken');
  assert.throws(() => writer.reserve(1024 + 1), codeOf('SLUICE_ERR_INVALID_ARGUMENT'), 'reserve <= slabSize');
  writer.write(kib(1)); // exactly at the bound
  assert.throws(() => writer.reserve(1), codeOf('SLUICE_ERR_WRITE_BUFFER_FULL'));
  assert.equal(writer.stats.peakBufferedBytes, 4096);
  await turn();
  sink.complete();
  await writer.close();
  assert.equal(Buffer.concat(sink.received).length, 4096);
});

test("the hard bound holds: 'drop' drops, counts and reports every dropped byte", async () => {
  const sink = new GatedSink();
  const dropped: number[] = [];
  const writer = new BatchWriter(sink, {
    slabSize: 1024,
    highWaterMark: 2048,
    maxBufferedBytes: 4096,
    onFull: 'drop',
    onDrop: (bytes) => dropped.push(bytes),
  });
  assert.equal(writer.write(kib(4)), false);
  assert.equal(writer.write('x'.repeat(100)), false, 'dropped');
  const view = writer.reserve(512);
  view.fill(1);
  assert.equal(writer.commit(300), false, 'a reservation past the bound is dropped at commit');
  assert.deepEqual(dropped, [100, 300]);
  assert.deepEqual([writer.stats.droppedWrites, writer.stats.droppedBytes], [2, 400]);
  assert.equal(writer.stats.acceptedBytes, 4096);
  await turn();
  sink.complete();
  await writer.close();
  assert.equal(Buffer.concat(sink.received).length, 4096);
});

test('writeAsync() waits for room, first come first served, and never passes the bound', async () => {
  const sink = new GatedSink();
  const writer = new BatchWriter(sink, { slabSize: 1024, highWaterMark: 1024, maxBufferedBytes: 4096 });
  const order: number[] = [];
  const writes = [1, 2, 3, 4, 5, 6].map((n) =>
    writer.writeAsync(Buffer.alloc(1500, n)).then(() => order.push(n)),
  );
  await turn();
  assert.deepEqual(order, [1, 2], 'two of 1500 bytes fit under 4096');
  assert.throws(
    () => writer.write('late'),
    codeOf('SLUICE_ERR_WRITE_BUFFER_FULL'),
    'write() may not overtake',
  );
  while (order.length < 6) {
    assert.ok(writer.bufferedBytes <= 4096);
    if (sink.waiting > 0) sink.complete();
    await turn();
  }
  await Promise.all(writes);
  assert.deepEqual(order, [1, 2, 3, 4, 5, 6]);
  const flushed = writer.flush();
  while (sink.waiting > 0) {
    sink.complete();
    await turn();
  }
  await flushed;
  const received = Buffer.concat(sink.received);
  assert.equal(received.length, 9000);
  for (let n = 1; n <= 6; n++) assert.equal(received[(n - 1) * 1500], n, `write ${n} in its place`);
  assert.ok(writer.stats.peakBufferedBytes <= 4096);
  await writer.close();
});

test('bytes are written at the end of the turn without flush()', async () => {
  const sink = new GatedSink();
  const writer = new BatchWriter(sink, { flushBytes: 1 << 20 });
  writer.write('a');
  writer.write('b');
  await Promise.resolve();
  assert.equal(sink.waiting, 0, 'not within the turn');
  await turn();
  assert.equal(sink.waiting, 1, 'one write for the whole turn');
  sink.complete();
  assert.equal(Buffer.concat(sink.received).toString(), 'ab');
  await writer.close();
});
