import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { mapBounded } from '../../src/tasks/index.js';

/** A generator that records how far it was pulled ahead of the consumer. */
function trackedSource(count: number, consumed: () => number, concurrency: number) {
  const stats = { pulled: 0, maxAhead: 0, returned: false };
  function* source(): Generator<number> {
    try {
      for (let index = 0; index < count; index++) {
        stats.pulled++;
        stats.maxAhead = Math.max(stats.maxAhead, stats.pulled - consumed());
        assert.ok(stats.pulled <= consumed() + concurrency, 'pulled ahead of consumed + concurrency');
        yield index;
      }
    } finally {
      stats.returned = true;
    }
  }
  return { source: source(), stats };
}

test('ordered and unordered results, bound, laziness and exactly-once over random inputs', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.boolean(),
      fc.boolean(),
      fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 60 }),
      async (concurrency, ordered, asyncSource, turns) => {
        let consumed = 0;
        let running = 0;
        const { source, stats } = trackedSource(turns.length, () => consumed, concurrency);
        async function* asAsync(): AsyncGenerator<number> {
          yield* source;
        }
        const calls = new Array<number>(turns.length).fill(0);
        const out: number[] = [];
        for await (const value of mapBounded(
          asyncSource ? asAsync() : source,
          async (item, index) => {
            assert.equal(item, index);
            calls[index]!++;
            running++;
            assert.ok(running <= concurrency, 'running above concurrency');
            for (let turn = 0; turn < turns[index]!; turn++) await nextTurn();
            running--;
            return item * 2;
          },
          { concurrency, ordered },
        )) {
          out.push(value);
          consumed++;
          if (consumed % 7 === 0) await nextTurn(); // a consumer that is sometimes slower
        }
        assert.deepEqual(calls, new Array<number>(turns.length).fill(1));
        const expected = turns.map((_, index) => index * 2);
        if (ordered) assert.deepEqual(out, expected);
        else
          assert.deepEqual(
            [...out].sort((a, b) => a - b),
            expected,
          );
        assert.ok(stats.maxAhead <= concurrency);
      },
    ),
    { numRuns: 80 },
  );
});

test('a 1e6-item generator is pulled lazily: a slow consumer holds the source back', async () => {
  let consumed = 0;
  const { source, stats } = trackedSource(1_000_000, () => consumed, 8);
  for await (const _ of mapBounded(source, (item) => item, { concurrency: 8 })) {
    consumed++;
    if (consumed === 100) break;
  }
  assert.ok(stats.pulled <= 100 + 8, `pulled ${stats.pulled} items for 100 consumed`);
  assert.equal(stats.returned, true, 'leaving the loop closes the source');
});

test('an error stops pulling, closes the source and aborts running calls', async () => {
  let consumed = 0;
  const { source, stats } = trackedSource(1000, () => consumed, 4);
  const aborted: unknown[] = [];
  const mapped = mapBounded(
    source,
    async (item, _index, signal) => {
      if (item === 2) {
        await nextTurn();
        throw new Error('item 2 is bad');
      }
      // The others wait until they are aborted.
      return new Promise<number>((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted.push(signal.reason);
          reject(signal.reason);
        }),
      );
    },
    { concurrency: 4, ordered: false },
  );
  await assert.rejects(
    (async () => {
      for await (const _ of mapped) consumed++;
    })(),
    /item 2 is bad/,
  );
  assert.equal(stats.returned, true);
  assert.ok(stats.pulled <= consumed + 4);
  await nextTurn();
  assert.equal(aborted.length, 3, 'items 0, 1 and 3 were running and saw the abort');
  assert.ok(aborted.every((reason) => (reason as Error).message === 'item 2 is bad'));
  assert.equal(stats.pulled, 4);
  assert.deepEqual(await mapped.next(), { done: true, value: undefined });
});

test('a failing input rejects the iteration', async () => {
  async function* broken(): AsyncGenerator<number> {
    yield 1;
    throw new Error('disk gone');
  }
  const out: number[] = [];
  await assert.rejects(
    (async () => {
      for await (const value of mapBounded(broken(), (item) => item, { concurrency: 2 })) out.push(value);
    })(),
    /disk gone/,
  );
});

test('the signal aborts the iteration with SLUICE_ERR_ABORTED', async () => {
  const controller = new AbortController();
  function* forever(): Generator<number> {
    for (let index = 0; ; index++) yield index;
  }
  const mapped = mapBounded(forever(), (item) => sleep(1, item), {
    concurrency: 3,
    signal: controller.signal,
  });
  const first = await mapped.next();
  assert.equal(first.value, 0);
  controller.abort('enough');
  await assert.rejects(mapped.next(), (error: Error & { code?: string; cause?: unknown }) => {
    assert.equal(error.code, 'SLUICE_ERR_ABORTED');
    assert.equal(error.cause, 'enough');
    return true;
  });
  await assert.rejects(
    mapBounded([1], (item) => item, { concurrency: 1, signal: AbortSignal.abort() }).next(),
    { code: 'SLUICE_ERR_ABORTED' },
  );
});

test('timers fire while a long drain of immediately-settling calls runs', async () => {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  let ticksSeenMidway = 0;
  let count = 0;
  function* items(): Generator<number> {
    for (let index = 0; index < 300_000; index++) yield index;
  }
  for await (const _ of mapBounded(items(), (item) => Promise.resolve(item), { concurrency: 100 })) {
    count++;
    if (count === 299_000) ticksSeenMidway = ticks;
  }
  clearInterval(interval);
  assert.equal(count, 300_000);
  assert.ok(ticksSeenMidway > 0, 'no timer ran during the drain');
});

test('rejects bad arguments', () => {
  assert.throws(() => mapBounded([1], (item) => item, { concurrency: 0 }), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => mapBounded(42 as unknown as number[], (item) => item, { concurrency: 1 }), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
});

test('undefined results are results like any other', async () => {
  for (const ordered of [true, false]) {
    const out: unknown[] = [];
    for await (const value of mapBounded([1, 2, 3], async () => undefined, { concurrency: 2, ordered })) {
      out.push(value);
    }
    assert.deepEqual(out, [undefined, undefined, undefined]);
  }
});
