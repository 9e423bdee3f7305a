import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool } from '../../src/buffers/index.js';
import { ChunkQueue, IOV_MAX, writeAllSync } from '../../src/write/chunk-queue.js';

const pool = (): BufferPool => new BufferPool({ slabSize: 64, maxSlabs: 8, debug: false });
const text = (chunks: readonly Uint8Array[]): string => Buffer.concat(chunks).toString();

test('copies and references keep their order; a reference splits the tail, which keeps filling', () => {
  const slabs = pool();
  const queue = new ChunkQueue(slabs);
  queue.append(Buffer.from('aa'));
  queue.appendReference(Buffer.from('REF1'));
  queue.append(Buffer.from('bb'));
  queue.appendReference(Buffer.from('REF2'));
  queue.appendReference(Buffer.from('REF3')); // right after another reference: before the empty tail
  queue.append(Buffer.from('cc'));
  const { chunks, bytes } = queue.collect(Number.POSITIVE_INFINITY);
  assert.equal(text(chunks), 'aaREF1bbREF2REF3cc');
  assert.equal(bytes, 18);
  assert.equal(chunks.length, 6);
  assert.equal(slabs.stats().inUse, 1, 'one slab holds every copy');
  // a partial write that ends inside a reference
  queue.consume(5, true);
  assert.equal(text(queue.collect(Number.POSITIVE_INFINITY).chunks), '1bbREF2REF3cc');
  queue.consume(13, true);
  assert.equal(queue.collect(Number.POSITIVE_INFINITY).bytes, 0);
  assert.equal(slabs.stats().inUse, 1, 'the tail stays');
  assert.equal(queue.tailFill, 0, 'rewound: everything was written');
  queue.releaseAll();
  assert.equal(slabs.stats().inUse, 0);
});

test('a slab split by references returns to the pool only after its last range is written', () => {
  const slabs = pool();
  const queue = new ChunkQueue(slabs);
  queue.append(Buffer.from('x'.repeat(60)));
  queue.appendReference(Buffer.from('REF'));
  queue.append(Buffer.from('yyyy')); // the last 4 bytes of the first slab
  queue.append(Buffer.from('zz')); // a new slab
  assert.equal(slabs.stats().inUse, 2);
  queue.consume(63, true); // the first range and the reference
  assert.equal(slabs.stats().inUse, 2, 'the continuation still reads the first slab');
  queue.consume(4, true);
  assert.equal(slabs.stats().inUse, 1);
  assert.equal(text(queue.collect(100).chunks), 'zz');
});

test('adjacent references merge into one iovec; a gap starts a new one', () => {
  const memory = Buffer.from('0123456789');
  const queue = new ChunkQueue();
  queue.appendReference(memory.subarray(0, 3));
  queue.appendReference(memory.subarray(3, 5));
  queue.appendReference(memory.subarray(6, 8));
  const { chunks } = queue.collect(Number.POSITIVE_INFINITY);
  assert.deepEqual(
    chunks.map((chunk) => chunk.toString()),
    ['01234', '67'],
  );
});

test('collect stops at maxBytes and at IOV_MAX chunks', () => {
  const memory = new Uint8Array(2 * IOV_MAX + 2);
  const queue = new ChunkQueue();
  // every other byte: no two ranges are adjacent
  for (let index = 0; index <= IOV_MAX; index++)
    queue.appendReference(memory.subarray(2 * index, 2 * index + 1));
  assert.equal(queue.collect(Number.POSITIVE_INFINITY).chunks.length, IOV_MAX);
  const limited = queue.collect(10);
  assert.equal(limited.bytes, 10);
  assert.equal(limited.chunks.length, 10);
});

test('writeAllSync continues after short writes from the right byte, IOV_MAX iovecs at most per call', () => {
  const queue = new ChunkQueue();
  const memory = Buffer.alloc(6 * IOV_MAX);
  for (let index = 0; index < memory.length; index++) memory[index] = index & 0xff;
  // every third byte skipped: 2 * IOV_MAX ranges of 2 bytes that never merge
  const expected: Buffer[] = [];
  for (let index = 0; index + 2 <= memory.length; index += 3) {
    queue.appendReference(memory.subarray(index, index + 2));
    expected.push(memory.subarray(index, index + 2));
  }
  const sink: Buffer[] = [];
  let calls = 0;
  const written = writeAllSync(
    queue,
    (chunks, position) => {
      calls++;
      assert.ok(chunks.length <= IOV_MAX);
      assert.equal(position, Buffer.concat(sink).length + 100);
      // take at most 777 bytes per call: short writes end inside chunks
      const all = Buffer.concat(chunks).subarray(0, 777);
      sink.push(Buffer.from(all));
      return all.length;
    },
    100,
  );
  assert.equal(written, 4 * IOV_MAX);
  assert.ok(Buffer.concat(sink).equals(Buffer.concat(expected)));
  assert.equal(calls, Math.ceil((4 * IOV_MAX) / 777));
  queue.appendReference(Buffer.from('stuck'));
  assert.throws(() => writeAllSync(queue, () => 0, 0), /wrote 0 of 5 bytes/);
});
