import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchAssembler, IOV_MAX, writevFully } from '../../src/log/batch.js';

test('adjacent ranges of the same memory merge into one iovec; the byte bound holds', () => {
  const memory = new Uint8Array(100);
  const batch = new BatchAssembler(50);
  assert.ok(batch.add(memory.subarray(0, 10)));
  assert.ok(batch.add(memory.subarray(10, 30)));
  assert.ok(batch.add(memory.subarray(60, 70)), 'not adjacent: a second iovec');
  assert.equal(batch.add(memory.subarray(70, 81)), false, 'would pass 50 bytes');
  assert.ok(batch.add(memory.subarray(70, 80)), 'exactly 50 fits');
  assert.equal(batch.bytes, 50);
  const iovecs = batch.take();
  assert.deepEqual(
    iovecs.map((iovec) => [iovec.byteOffset, iovec.length]),
    [
      [0, 30],
      [60, 20],
    ],
  );
  assert.ok(batch.isEmpty);
  assert.ok(batch.add(new Uint8Array(500)), 'the first range is always accepted');
  assert.equal(batch.fits(1), false);
});

test('writevFully continues after short writes, from the right byte', () => {
  const source = [Buffer.from('abcdef'), Buffer.from('gh'), Buffer.from('ijklmnop')];
  const sink = Buffer.alloc(16, '.');
  let calls = 0;
  const written = writevFully(
    (iovecs, position) => {
      calls++;
      // write at most 3 bytes per call
      let budget = 3;
      let offset = position;
      for (const iovec of iovecs) {
        const take = Math.min(budget, iovec.length);
        sink.set(iovec.subarray(0, take), offset);
        offset += take;
        budget -= take;
        if (budget === 0) break;
      }
      return offset - position;
    },
    source,
    0,
  );
  assert.equal(written, 16);
  assert.equal(sink.toString(), 'abcdefghijklmnop');
  assert.equal(calls, 6);
  assert.throws(() => writevFully(() => 0, source, 0), /wrote 0 bytes/);
});

test('a batch never needs more than IOV_MAX iovecs', () => {
  const memory = new Uint8Array(2 * IOV_MAX + 2);
  const batch = new BatchAssembler(1 << 20);
  let added = 0;
  // every other byte: no two ranges are adjacent
  while (batch.add(memory.subarray(2 * added, 2 * added + 1))) added++;
  assert.equal(added, IOV_MAX);
  assert.equal(batch.take().length, IOV_MAX);
});
