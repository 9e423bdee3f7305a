import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, mkdirSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BufferPool } from '../../src/buffers/index.js';
import { SluiceError } from '../../src/errors.js';
import {
  type ManagedReader,
  openReader,
  type Strategy,
  terminateIdleReadWorkers,
} from '../../src/file/index.js';
import { defaultPools } from '../../src/file/pools.js';
import { openFds, patternBytes, runAsNobody, tempDir, writeFile } from '../helpers/files.js';

const STRATEGIES: Strategy[] = ['threadpool', 'worker', 'sync'];
const code = (expected: string) => (error: unknown) => {
  assert.ok(error instanceof SluiceError, `expected a SluiceError, got ${String(error)}`);
  assert.equal(error.code, expected, error.message);
  return true;
};

async function collect(reader: ManagedReader): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const window of reader) parts.push(Buffer.from(window));
  return Buffer.concat(parts);
}

function windowsInUse(): number {
  return defaultPools().reduce((sum, pool) => sum + pool.stats().inUse, 0);
}

let dir: string;
let cleanup: () => void;
const content = patternBytes(1024 * 1024 + 12345, 7);
let file: string;

before(() => {
  ({ dir, cleanup } = tempDir());
  file = writeFile(dir, 'data.bin', content);
});
after(async () => {
  cleanup();
  await terminateIdleReadWorkers();
});

describe('every strategy reads exactly the bytes asked for', () => {
  for (const strategy of STRATEGIES) {
    test(`${strategy}: whole file, small windows`, async () => {
      const reader = await openReader(file, { strategy, windowSize: 64 * 1024, readAhead: 2 });
      assert.equal(reader.strategy, strategy);
      assert.equal(reader.size, content.length);
      assert.deepEqual([reader.start, reader.end], [0, content.length - 1]);
      assert.ok((await collect(reader)).equals(content));
      assert.equal(reader.position, content.length);
      assert.equal(reader.closed, true, 'the reader closes itself at the end');
      assert.equal(await reader.next(), null, 'next() after the end stays null');
    });

    test(`${strategy}: byte ranges, end inclusive`, async () => {
      for (const [start, end] of [
        [0, 0],
        [1, 1],
        [5, 70_000],
        [65_536, 131_071],
        [content.length - 1, content.length - 1],
        [1000, content.length - 1],
      ] as const) {
        const reader = await openReader(file, { strategy, start, end, windowSize: 65_536, readAhead: 1 });
        assert.ok((await collect(reader)).equals(content.subarray(start, end + 1)), `${start}-${end}`);
      }
    });

    test(`${strategy}: an empty file gives no window`, async () => {
      const empty = writeFile(dir, `empty-${strategy}.bin`, Buffer.alloc(0));
      const reader = await openReader(empty, { strategy });
      assert.equal(await reader.next(), null);
    });

    test(`${strategy}: a held window is never overwritten by reads ahead`, async () => {
      const reader = await openReader(file, { strategy, windowSize: 4096, readAhead: 8 });
      let offset = 0;
      for (let window = await reader.next(); window !== null; window = await reader.next()) {
        if (offset % (64 * 4096) === 0) await sleep(2); // let every read ahead land meanwhile
        assert.ok(window.equals(content.subarray(offset, offset + window.length)), `window at ${offset}`);
        offset += window.length;
      }
      assert.equal(offset, content.length);
    });
  }
});

describe('auto planning', () => {
  test('a small file is read synchronously in one window', async () => {
    const small = writeFile(dir, 'small.bin', patternBytes(10_000));
    const reader = await openReader(small);
    assert.equal(reader.strategy, 'sync');
    const window = await reader.next();
    assert.equal(window?.length, 10_000);
    assert.equal(await reader.next(), null);
  });

  test('a large file is read with reads in flight on the threadpool', async () => {
    const reader = await openReader(file);
    assert.equal(reader.strategy, 'threadpool');
    assert.ok(reader.readAhead >= 1);
    assert.ok((await collect(reader)).equals(content));
  });
});

describe('bad input: a clear error, nothing left open', () => {
  test('missing file, directory, NUL in the path', async () => {
    const fds = openFds();
    await assert.rejects(openReader(path.join(dir, 'nope')), code('SLUICE_ERR_FILE_NOT_FOUND'));
    await assert.rejects(openReader(path.join(dir, 'data.bin', 'below')), code('SLUICE_ERR_FILE_NOT_FOUND'));
    mkdirSync(path.join(dir, 'folder'), { recursive: true });
    await assert.rejects(openReader(path.join(dir, 'folder')), code('SLUICE_ERR_NOT_A_FILE'));
    await assert.rejects(openReader(`${file}\0x`), code('SLUICE_ERR_INVALID_ARGUMENT'));
    assert.equal(openFds(), fds);
  });

  test('ranges outside the file', async () => {
    const fds = openFds();
    await assert.rejects(openReader(file, { end: content.length }), code('SLUICE_ERR_RANGE_OUTSIDE_FILE'));
    await assert.rejects(
      openReader(file, { start: content.length + 1 }),
      code('SLUICE_ERR_RANGE_OUTSIDE_FILE'),
    );
    await assert.rejects(openReader(file, { start: 10, end: 5 }), code('SLUICE_ERR_INVALID_ARGUMENT'));
    assert.equal(openFds(), fds);
  });

  test('bad options name the option and the value', async () => {
    await assert.rejects(openReader(file, { windowSize: 0 }), /windowSize must be an integer from 1/);
    await assert.rejects(openReader(file, { readAhead: -1 }), code('SLUICE_ERR_INVALID_ARGUMENT'));
    await assert.rejects(openReader(file, { strategy: 'mmap' as Strategy }), /strategy must be/);
    await assert.rejects(openReader(file, { start: 1.5 }), code('SLUICE_ERR_INVALID_ARGUMENT'));
    const pool = new BufferPool({ slabSize: 4096, maxSlabs: 2 });
    await assert.rejects(openReader(file, { pool, strategy: 'worker' }), code('SLUICE_ERR_INVALID_ARGUMENT'));
    await assert.rejects(openReader(file, { pool, windowSize: 8192 }), code('SLUICE_ERR_INVALID_ARGUMENT'));
  });

  test('closed reader and concurrent next()', async () => {
    const reader = await openReader(file, { strategy: 'threadpool', windowSize: 4096 });
    const first = reader.next();
    await assert.rejects(reader.next(), code('SLUICE_ERR_CONCURRENT_NEXT'));
    await first;
    await reader.close();
    await reader.close(); // idempotent
    await assert.rejects(reader.next(), code('SLUICE_ERR_READER_CLOSED'));
  });

  test('permission denied (as an unprivileged user)', async (t) => {
    if (process.getuid?.() !== 0) {
      const locked = writeFile(dir, 'locked.bin', Buffer.from('secret'));
      chmodSync(locked, 0o000);
      await assert.rejects(openReader(locked), code('SLUICE_ERR_FILE_PERMISSION'));
      return;
    }
    // root reads anything: check the mapping of EACCES in a child running as nobody.
    const locked = writeFile(dir, 'locked.bin', Buffer.from('secret'));
    chmodSync(locked, 0o000);
    chmodSync(dir, 0o755);
    const moduleUrl = new URL('../../src/file/index.js', import.meta.url).href;
    const script = `import(${JSON.stringify(moduleUrl)}).then((m) => m.openReader(${JSON.stringify(locked)})).then(() => console.log('opened'), (e) => console.log(e.code))`;
    const child = runAsNobody(script);
    if ('why' in child) {
      t.skip(child.why);
      return;
    }
    const { output } = child;
    if (!output.startsWith('SLUICE_ERR_')) {
      t.skip(`the child could not load sluice as nobody (${output}): the checkout is not world-readable`);
      return;
    }
    assert.equal(output, 'SLUICE_ERR_FILE_PERMISSION');
  });
});

describe('the file changing under the reader', () => {
  for (const strategy of STRATEGIES) {
    test(`${strategy}: shrinking is SLUICE_ERR_FILE_SHRANK`, async () => {
      const victim = writeFile(dir, `shrink-${strategy}.bin`, patternBytes(2 * 1024 * 1024));
      const fds = openFds();
      const reader = await openReader(victim, { strategy, windowSize: 64 * 1024, readAhead: 1 });
      assert.ok(await reader.next());
      truncateSync(victim, 300 * 1024);
      await assert.rejects(
        (async () => {
          while ((await reader.next()) !== null) {
            // keep reading until the error
          }
        })(),
        code('SLUICE_ERR_FILE_SHRANK'),
      );
      assert.equal(reader.closed, true);
      assert.equal(openFds(), fds, 'the fd is closed after the error');
      assert.equal(windowsInUse(), 0, 'every window went back');
    });

    test(`${strategy}: growing is SLUICE_ERR_FILE_GREW when reading to the end`, async () => {
      const victim = writeFile(dir, `grow-${strategy}.bin`, patternBytes(512 * 1024));
      const reader = await openReader(victim, { strategy, windowSize: 64 * 1024, readAhead: 1 });
      assert.ok(await reader.next());
      appendFileSync(victim, Buffer.from('more bytes'));
      await assert.rejects(
        (async () => {
          while ((await reader.next()) !== null) {
            // keep reading until the error
          }
        })(),
        code('SLUICE_ERR_FILE_GREW'),
      );
      // An explicit range is a promise about those bytes only: growth past it is fine.
      const ranged = await openReader(victim, { strategy, start: 0, end: 1000 });
      assert.equal((await collect(ranged)).length, 1001);
    });
  }
});

describe('abort, close and cleanup', () => {
  for (const strategy of STRATEGIES) {
    test(`${strategy}: abort mid-read rejects with SLUICE_ERR_ABORTED and releases everything`, async () => {
      const fds = openFds();
      const controller = new AbortController();
      const reader = await openReader(file, {
        strategy,
        windowSize: 4096,
        readAhead: 4,
        signal: controller.signal,
      });
      assert.ok(await reader.next());
      controller.abort(new Error('client went away'));
      await assert.rejects(reader.next(), code('SLUICE_ERR_ABORTED'));
      await reader.close();
      assert.equal(openFds(), fds);
      assert.equal(windowsInUse(), 0);
    });

    test(`${strategy}: breaking out of for-await closes the file`, async () => {
      const fds = openFds();
      const reader = await openReader(file, { strategy, windowSize: 4096, readAhead: 3 });
      for await (const window of reader) {
        assert.ok(window.length > 0);
        break;
      }
      assert.equal(reader.closed, true);
      assert.equal(openFds(), fds);
      assert.equal(windowsInUse(), 0);
    });

    test(`${strategy}: await using closes at the end of the block`, async () => {
      const fds = openFds();
      {
        await using reader = await openReader(file, { strategy, windowSize: 8192 });
        assert.ok(await reader.next());
      }
      assert.equal(openFds(), fds);
      assert.equal(windowsInUse(), 0);
    });
  }

  test('an already aborted signal opens nothing', async () => {
    const fds = openFds();
    await assert.rejects(openReader(file, { signal: AbortSignal.abort() }), code('SLUICE_ERR_ABORTED'));
    assert.equal(openFds(), fds);
  });
});

describe('a caller pool bounds every reader together', () => {
  test('two readers on a one-slab pool take turns and both finish', async () => {
    const pool = new BufferPool({ slabSize: 16 * 1024, maxSlabs: 1 });
    const first = await openReader(file, { pool, readAhead: 4 });
    const second = await openReader(file, { pool, readAhead: 4 });
    assert.equal(first.windowSize, 16 * 1024);
    const window = await first.next();
    assert.ok(window);
    const waiting = second.next();
    await sleep(5);
    assert.equal(pool.stats().waiting, 1, 'the second reader waits for the only slab');
    assert.equal(pool.stats().inUse, 1);
    const firstRest = await collect(first);
    assert.equal(firstRest.length, content.length - window.length);
    assert.ok(await waiting);
    await second.close();
    assert.equal(pool.stats().inUse, 0);
  });
});

describe('fairTurns: readers sharing a pool take turns window by window', () => {
  /**
   * Three readers, two windows: each consumer takes a window, then asks for the next. With fair
   * turns, a reader whose `next()` finds somebody waiting gives its window to them and queues, so
   * the deliveries interleave in arrival order; every reader gets its exact bytes.
   */
  for (const strategy of ['threadpool', 'sync'] as const) {
    test(`${strategy}: turns go round in queue order and the bytes stay exact`, async () => {
      const windowSize = 64 * 1024;
      const pool = new BufferPool({ slabSize: windowSize, maxSlabs: 2 });
      const length = 4 * windowSize;
      const readers = await Promise.all(
        [0, 1, 2].map(() =>
          openReader(file, { pool, strategy, readAhead: 0, fairTurns: true, start: 0, end: length - 1 }),
        ),
      );
      const order: number[] = [];
      const consume = async (reader: ManagedReader, id: number): Promise<Buffer> => {
        const parts: Buffer[] = [];
        for (let window = await reader.next(); window !== null; window = await reader.next()) {
          order.push(id);
          parts.push(Buffer.from(window));
          assert.ok(pool.stats().inUse <= 2, 'never more windows than the pool has');
          await sleep(1);
        }
        return Buffer.concat(parts);
      };
      const bodies = await Promise.all(readers.map((reader, id) => consume(reader, id)));
      for (const body of bodies) assert.ok(body.equals(content.subarray(0, length)));
      assert.equal(order.length, 12);
      // without turns, readers 0 and 1 would take all 8 of their windows before reader 2's first
      assert.ok(order.indexOf(2) < 4, `reader 2 served early: ${order.join(',')}`);
      // and no reader runs more than two windows ahead of another
      const counts = [0, 0, 0];
      for (const id of order) {
        counts[id]!++;
        if (counts.every((count) => count < 4)) assert.ok(Math.max(...counts) - Math.min(...counts) <= 2);
      }
      assert.equal(pool.stats().inUse, 0);
      assert.equal(pool.waiting, 0);
    });
  }

  test('uncontended, one window serves the whole range (no acquire per window)', async () => {
    const pool = new BufferPool({ slabSize: 16 * 1024, maxSlabs: 4 });
    const reader = await openReader(file, { pool, readAhead: 0, fairTurns: true, strategy: 'threadpool' });
    const body = await collect(reader);
    assert.ok(body.equals(content));
    assert.equal(pool.stats().acquires, 1);
    assert.equal(pool.stats().inUse, 0);
  });

  test('without fairTurns a reader keeps its window while others wait', async () => {
    const pool = new BufferPool({ slabSize: 16 * 1024, maxSlabs: 1 });
    const first = await openReader(file, { pool, readAhead: 0, end: 64 * 1024 - 1 });
    const second = await openReader(file, { pool, readAhead: 0 });
    assert.ok(await first.next());
    const waiting = second.next();
    await sleep(2);
    assert.equal(pool.waiting, 1);
    assert.ok(await first.next(), 'the first reader goes on with the window it holds');
    await first.close();
    assert.ok(await waiting);
    await second.close();
    assert.equal(pool.stats().inUse, 0);
  });

  test('fairTurns must be a boolean', async () => {
    await assert.rejects(
      openReader(file, { fairTurns: 'yes' as unknown as boolean }),
      code('SLUICE_ERR_INVALID_ARGUMENT'),
    );
  });
});

describe('SLUICE_DEBUG=1: a released window cannot be read by mistake', () => {
  test('threadpool and sync windows are detached after next()', async () => {
    for (const strategy of ['threadpool', 'sync'] as const) {
      const pool = new BufferPool({ slabSize: 8192, maxSlabs: 4, debug: true });
      const reader = await openReader(file, { strategy, pool, readAhead: 1 });
      const window = (await reader.next())!;
      assert.equal(window.length, 8192);
      await reader.next();
      assert.equal(window.length, 0, `${strategy}: the old window is detached`);
      assert.throws(() => window.readUInt8(0), RangeError);
      await reader.close();
    }
  });

  test('worker windows (copies under debug) are detached after next()', async () => {
    const previous = process.env.SLUICE_DEBUG;
    process.env.SLUICE_DEBUG = '1';
    try {
      const reader = await openReader(file, { strategy: 'worker', windowSize: 8192, readAhead: 1 });
      const window = (await reader.next())!;
      await reader.next();
      assert.equal(window.length, 0, 'the old window is detached');
      await reader.close();
    } finally {
      if (previous === undefined) delete process.env.SLUICE_DEBUG;
      else process.env.SLUICE_DEBUG = previous;
    }
  });
});

describe('worker strategy under contention', () => {
  test('more readers than workers wait their turn and all finish', async () => {
    const readers = await Promise.all(
      Array.from({ length: 6 }, () => openReader(file, { strategy: 'worker', windowSize: 64 * 1024 })),
    );
    const results = await Promise.all(readers.map(collect));
    for (const result of results) assert.ok(result.equals(content));
  });
});

describe('closing a worker reader that waits for a free worker', () => {
  test('the wait ends at once and nothing is leased or left open', async () => {
    const { MAX_READ_WORKERS } = await import('../../src/file/index.js');
    const busy = await Promise.all(
      Array.from({ length: MAX_READ_WORKERS }, () =>
        openReader(file, { strategy: 'worker', windowSize: 4096, readAhead: 0 }),
      ),
    );
    for (const reader of busy) assert.ok(await reader.next()); // each holds a worker now
    const fds = openFds();
    const controller = new AbortController();
    const queued = await openReader(file, { strategy: 'worker', signal: controller.signal });
    const pending = queued.next();
    controller.abort();
    await assert.rejects(pending, code('SLUICE_ERR_ABORTED'));
    assert.equal(openFds(), fds, 'the queued reader closed its file');
    for (const reader of busy) await reader.close();
  });
});
