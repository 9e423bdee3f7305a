import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferPool, POISON_BYTE } from '../../src/buffers/index.js';
import { SluiceError } from '../../src/errors.js';

const codeOf = (code: string) => (error: unknown) => error instanceof SluiceError && error.code === code;

test('slabs are allocated lazily, reused, and bounded', () => {
  const pool = new BufferPool({ slabSize: 1024, maxSlabs: 2 });
  assert.equal(pool.stats().allocated, 0);
  const a = pool.tryAcquire();
  const b = pool.tryAcquire();
  assert.ok(a && b);
  assert.equal(a.length, 1024);
  assert.notEqual(a.buffer, b.buffer, 'each slab has its own ArrayBuffer');
  assert.equal(pool.tryAcquire(), undefined, 'the bound holds');
  pool.release(a);
  const c = pool.tryAcquire();
  assert.equal(c?.buffer, a.buffer, 'a released slab is reused');
  assert.deepEqual(
    { ...pool.stats(), name: '' },
    {
      name: '',
      slabSize: 1024,
      maxSlabs: 2,
      allocated: 2,
      inUse: 2,
      free: 0,
      waiting: 0,
      peakInUse: 2,
      acquires: 3,
      releases: 1,
    },
  );
});

test('firstFill is true once per allocated slab, through any view, and false for foreign buffers', () => {
  const pool = new BufferPool({ slabSize: 1024, maxSlabs: 2 });
  const a = pool.tryAcquire()!;
  assert.equal(pool.firstFill(a.subarray(10, 20)), true);
  assert.equal(pool.firstFill(a), false, 'asked once already');
  pool.release(a);
  assert.equal(pool.firstFill(pool.tryAcquire()!), false, 'the same slab, reused');
  assert.equal(pool.firstFill(pool.tryAcquire()!), true, 'a second slab, new');
  assert.equal(pool.firstFill(Buffer.alloc(8)), false);
});

test('a view into a slab releases the slab', () => {
  const pool = new BufferPool({ slabSize: 64, maxSlabs: 1 });
  const slab = pool.tryAcquire()!;
  pool.release(slab.subarray(3, 10));
  assert.equal(pool.stats().inUse, 0);
});

test('waiters are served first come, first served', async () => {
  const pool = new BufferPool({ slabSize: 16, maxSlabs: 1 });
  const held = await pool.acquire();
  const order: number[] = [];
  const first = pool.acquire().then((slab) => {
    order.push(1);
    return slab;
  });
  const second = pool.acquire().then((slab) => {
    order.push(2);
    return slab;
  });
  assert.equal(pool.stats().waiting, 2);
  assert.equal(pool.waiting, 2, 'the getter and stats() agree');
  pool.release(held);
  assert.equal(pool.waiting, 1, 'a release hands the slab to the oldest waiter at once');
  pool.release(await first);
  pool.release(await second);
  assert.deepEqual(order, [1, 2]);
  assert.equal(pool.stats().inUse, 0);
});

test('an aborted waiter leaves the queue and holds nothing', async () => {
  const pool = new BufferPool({ slabSize: 16, maxSlabs: 1 });
  const held = pool.tryAcquire()!;
  const controller = new AbortController();
  const waiting = pool.acquire(controller.signal);
  controller.abort(new Error('client went away'));
  await assert.rejects(waiting, codeOf('SLUICE_ERR_ABORTED'));
  assert.equal(pool.stats().waiting, 0);
  assert.equal(pool.waiting, 0);
  pool.release(held);
  assert.equal(pool.stats().inUse, 0);
  await assert.rejects(
    pool.acquire(AbortSignal.abort()).then(() => pool.acquire(AbortSignal.abort())),
    codeOf('SLUICE_ERR_ABORTED'),
  );
});

test('double release and foreign buffers are errors, always', () => {
  const pool = new BufferPool({ slabSize: 16, maxSlabs: 2, debug: false });
  const slab = pool.tryAcquire()!;
  pool.release(slab);
  assert.throws(() => pool.release(slab), codeOf('SLUICE_ERR_DOUBLE_RELEASE'));
  assert.throws(() => pool.release(Buffer.alloc(16)), codeOf('SLUICE_ERR_FOREIGN_BUFFER'));
  assert.equal(pool.stats().inUse, 0);
  assert.equal(pool.stats().free, 1);
});

test('debug: a released window is detached and its memory poisoned', () => {
  const pool = new BufferPool({ slabSize: 32, maxSlabs: 1, debug: true });
  const slab = pool.tryAcquire()!;
  slab.fill(7);
  const window = slab.subarray(0, 8);
  pool.release(window);
  assert.equal(window.length, 0, 'the releaser keeps a detached view');
  assert.equal(slab[0], undefined);
  assert.throws(() => window.readUInt8(0), RangeError);
  assert.throws(() => pool.release(window), codeOf('SLUICE_ERR_FOREIGN_BUFFER'));
  const again = pool.tryAcquire()!;
  assert.equal(again.length, 32);
  assert.ok(
    again.every((byte) => byte === POISON_BYTE),
    'reused memory is poisoned, not stale data',
  );
  pool.release(again);
  assert.throws(
    () => pool.release(again),
    (error: unknown) =>
      codeOf('SLUICE_ERR_FOREIGN_BUFFER')(error) || codeOf('SLUICE_ERR_DOUBLE_RELEASE')(error),
  );
});

test('SLUICE_DEBUG=1 turns debug on by default', () => {
  const previous = process.env.SLUICE_DEBUG;
  process.env.SLUICE_DEBUG = '1';
  try {
    assert.equal(new BufferPool({ slabSize: 8, maxSlabs: 1 }).debug, true);
  } finally {
    if (previous === undefined) delete process.env.SLUICE_DEBUG;
    else process.env.SLUICE_DEBUG = previous;
  }
});

test('close rejects waiters; slabs held are dropped when released', async () => {
  const pool = new BufferPool({ slabSize: 16, maxSlabs: 1 });
  const held = pool.tryAcquire()!;
  const waiting = pool.acquire();
  pool.close();
  await assert.rejects(waiting, codeOf('SLUICE_ERR_POOL_CLOSED'));
  assert.throws(() => pool.tryAcquire(), codeOf('SLUICE_ERR_POOL_CLOSED'));
  await assert.rejects(pool.acquire(), codeOf('SLUICE_ERR_POOL_CLOSED'));
  pool.release(held);
  assert.equal(pool.stats().allocated, 0);
});

test('bad options are rejected with the value given', () => {
  assert.throws(
    () => new BufferPool({ slabSize: 0, maxSlabs: 1 }),
    /slabSize must be a positive integer; got 0/,
  );
  assert.throws(() => new BufferPool({ slabSize: 8, maxSlabs: 1.5 }), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
});

test('trim frees idle slabs only', () => {
  const pool = new BufferPool({ slabSize: 16, maxSlabs: 3 });
  const held = pool.tryAcquire()!;
  const idle = pool.tryAcquire()!;
  pool.release(idle);
  pool.trim();
  assert.deepEqual([pool.stats().allocated, pool.stats().inUse], [1, 1]);
  assert.equal(idle.length, 0, 'a trimmed slab is detached: a stale view cannot touch freed memory');
  assert.equal(held.length, 16, 'a held slab is untouched');
  pool.release(held);
});

test('trim(keep) keeps the most recently released idle slabs; a bad keep is rejected', () => {
  const pool = new BufferPool({ slabSize: 16, maxSlabs: 4 });
  const slabs = [0, 1, 2, 3].map(() => pool.tryAcquire()!);
  for (const slab of slabs) pool.release(slab);
  assert.throws(() => pool.trim(-1), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  assert.throws(() => pool.trim(1.5), /keep must be an integer >= 0; got 1.5/);
  assert.equal(pool.stats().free, 4, 'a rejected trim frees nothing');
  pool.trim(2);
  assert.deepEqual([pool.stats().allocated, pool.stats().free], [2, 2]);
  assert.deepEqual(
    slabs.map((slab) => slab.length),
    [0, 0, 16, 16],
    'the two released first are freed, the last two kept',
  );
  pool.trim(5);
  assert.equal(pool.stats().free, 2, 'keeping more than there are frees nothing');
});

test('trim gives the memory back now, without waiting for a garbage collection', async () => {
  const slabSize = 4 * 1024 * 1024;
  const pool = new BufferPool({ slabSize, maxSlabs: 4 });
  const slabs = [0, 1, 2, 3].map(() => pool.tryAcquire()!);
  for (const slab of slabs) slab.fill(1);
  for (const slab of slabs) pool.release(slab);
  const before = process.memoryUsage().arrayBuffers;
  pool.trim();
  // freed within a turn of the event loop; no gc() here (the tests run without --expose-gc)
  for (let turn = 0; turn < 50 && process.memoryUsage().arrayBuffers > before - 4 * slabSize; turn++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assert.ok(
    process.memoryUsage().arrayBuffers <= before - 4 * slabSize,
    `arrayBuffers ${before} -> ${process.memoryUsage().arrayBuffers}`,
  );
  assert.equal(pool.stats().allocated, 0);
  const again = await pool.acquire();
  assert.equal(again.length, slabSize, 'allocated again on demand');
  pool.release(again);
});
