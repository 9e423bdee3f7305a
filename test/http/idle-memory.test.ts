import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BufferPool } from '../../src/buffers/index.js';
import {
  exposedGc,
  HEAP_GROWTH_BYTES,
  type HeapProbe,
  IdleReclaim,
  YOUNG_GROWN_BYTES,
} from '../../src/http/idle-memory.js';
import { createDownloadServer } from '../../src/http/server.js';
import { eventually, patternBytes, request, tempDir, writeFiles } from './helpers.js';

const MiB = 1024 * 1024;

/** A heap whose figures the test sets. */
function fakeHeap(heapBytes: number, youngBytes: number): HeapProbe & { heap: number; young: number } {
  return {
    heap: heapBytes,
    young: youngBytes,
    heapBytes() {
      return this.heap;
    },
    youngBytes() {
      return this.young;
    },
  };
}

function pool(): BufferPool {
  return new BufferPool({ slabSize: 64 * 1024, maxSlabs: 4, name: 'idle-test' });
}

test('idle: windows are trimmed, then one collection when the heap grew, then one to shrink a grown young generation', async () => {
  const windows = pool();
  const slab = windows.tryAcquire()!;
  windows.release(slab);
  assert.equal(windows.stats().allocated, 1);
  const heap = fakeHeap(50 * MiB, 32 * MiB);
  let collections = 0;
  const reclaim = new IdleReclaim(
    windows,
    () => {
      collections++;
      heap.heap = 40 * MiB; // what a collection gives back
      if (collections === 2) heap.young = 2 * MiB; // V8 shrinks the young generation only in the later one
    },
    { reclaimMs: 10, youngShrinkMs: 30, heap },
  );
  heap.heap += HEAP_GROWTH_BYTES; // the burst
  reclaim.idle();
  await eventually(() => collections === 1, 2000, 'the first collection');
  assert.equal(windows.stats().allocated, 0, 'idle windows freed');
  await eventually(() => collections === 2, 2000, 'the young-generation collection');
  await sleep(80);
  assert.equal(collections, 2, 'nothing more until the next idle period');
  // idle again with no growth and a small young generation: windows trimmed, no collection
  reclaim.idle();
  await sleep(80);
  assert.equal(collections, 2);
  reclaim.close();
  windows.close();
});

test('idle: a small heap change and a small young generation cost no collection', async () => {
  const heap = fakeHeap(50 * MiB, YOUNG_GROWN_BYTES);
  let collections = 0;
  const windows = pool();
  const reclaim = new IdleReclaim(windows, () => collections++, { reclaimMs: 5, youngShrinkMs: 5, heap });
  heap.heap += HEAP_GROWTH_BYTES - 1;
  reclaim.idle();
  await sleep(60);
  assert.equal(collections, 0);
  reclaim.close();
  windows.close();
});

test('idle: a transfer starting cancels what was scheduled; close() stops everything', async () => {
  const heap = fakeHeap(50 * MiB, 32 * MiB);
  let collections = 0;
  const windows = pool();
  const reclaim = new IdleReclaim(windows, () => collections++, { reclaimMs: 20, youngShrinkMs: 20, heap });
  heap.heap += 2 * HEAP_GROWTH_BYTES;
  reclaim.idle();
  reclaim.busy(); // a new transfer before the reclaim was due
  await sleep(60);
  assert.equal(collections, 0);
  reclaim.idle();
  reclaim.close();
  await sleep(60);
  assert.equal(collections, 0, 'closed: nothing runs');
  reclaim.idle(); // after close: ignored
  await sleep(40);
  assert.equal(collections, 0);
  windows.close();
});

test('idle: without a gc function only the windows are freed; exposedGc() is globalThis.gc or nothing', async () => {
  const windows = pool();
  windows.release(windows.tryAcquire()!);
  const reclaim = new IdleReclaim(windows, undefined, { reclaimMs: 5, heap: fakeHeap(0, 64 * MiB) });
  reclaim.idle();
  await eventually(() => windows.stats().allocated === 0, 2000, 'windows freed');
  reclaim.close();
  windows.close();
  const exposed = (globalThis as { gc?: unknown }).gc;
  assert.equal(exposedGc(), typeof exposed === 'function' ? exposed : undefined);
});

test('createDownloadServer collects with the given gc once idle after a burst, and counts it in /metrics', async () => {
  const temp = tempDir();
  await writeFiles(temp.dir, { 'book/a.mp3': patternBytes(300_000, 3) });
  let collections = 0;
  const server = createDownloadServer({ root: temp.dir, crcCachePath: false, gc: () => collections++ });
  try {
    const base = await server.listen(0, '127.0.0.1');
    // the burst: garbage well past the growth threshold, made while a transfer runs
    let garbage: { index: number; text: string }[] = Array.from({ length: 400_000 }, (_, index) => ({
      index,
      text: `x${index}`,
    }));
    const response = await request(`${base}book.zip`);
    assert.equal(response.status, 200);
    assert.equal(garbage.length, 400_000);
    garbage = [];
    await eventually(() => collections >= 1, 5000, 'a collection once idle');
    const metrics = (await request(`${base}metrics`)).body.toString();
    assert.match(metrics, /^sluice_idle_collections_total [1-9]\d*$/m);
  } finally {
    await server.close({ graceMs: 0 });
    temp.remove();
  }
});

test('createDownloadServer with gc: false never collects', async () => {
  const temp = tempDir();
  await writeFiles(temp.dir, { 'a.mp3': patternBytes(100_000, 4) });
  const server = createDownloadServer({ root: temp.dir, crcCachePath: false, gc: false });
  try {
    const base = await server.listen(0, '127.0.0.1');
    assert.equal((await request(`${base}a.mp3`)).status, 200);
    await eventually(() => server.pool.stats().allocated === 0, 3000, 'windows trimmed');
    assert.match((await request(`${base}metrics`)).body.toString(), /^sluice_idle_collections_total 0$/m);
  } finally {
    await server.close({ graceMs: 0 });
    temp.remove();
  }
});
