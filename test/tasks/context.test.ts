import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { limit, mapBounded, TaskSet } from '../../src/tasks/index.js';

const storage = new AsyncLocalStorage<string>();

/** Submits tasks from callers with and without a store; each must see exactly its caller's store. */
async function checkLimiter(concurrency: number): Promise<void> {
  const limited = limit(concurrency);
  const seen: Array<Promise<[string | undefined, string | undefined]>> = [];
  for (let index = 0; index < 40; index++) {
    const store = index % 3 === 0 ? undefined : `caller-${index}`;
    const submit = (): Promise<[string | undefined, string | undefined]> =>
      limited(async () => {
        const before = storage.getStore();
        await nextTurn();
        return [before, storage.getStore()];
      }).then(([before, after]) => {
        assert.equal(storage.getStore(), store, 'the caller keeps its store after awaiting');
        return [before, after];
      });
    seen.push(store === undefined ? submit() : storage.run(store, submit));
  }
  const results = await Promise.all(seen);
  results.forEach(([before, after], index) => {
    const expected = index % 3 === 0 ? undefined : `caller-${index}`;
    assert.equal(before, expected, `task ${index} started with the wrong store`);
    assert.equal(after, expected, `task ${index} lost its store across an await`);
  });
}

test('limit: queued tasks run with their caller’s store (and none when it had none)', async () => {
  await checkLimiter(1);
  await checkLimiter(4);
});

test('limit: a store entered with enterWith is seen by tasks queued after it', async () => {
  const limited = limit(1);
  const results = await new Promise<Array<string | undefined>>((resolve) => {
    setImmediate(() => {
      storage.enterWith('entered');
      const blocked = limited(() => nextTurn());
      resolve(Promise.all([blocked.then(() => 'x'), limited(() => storage.getStore())]) as never);
    });
  });
  assert.equal(results[1], 'entered');
});

test('TaskSet: queued tasks run with the store of the code that added them', async () => {
  const set = new TaskSet<[number, string | undefined]>({ concurrency: 2 });
  for (let index = 0; index < 20; index++) {
    const add = (): void =>
      set.add(async () => {
        await nextTurn();
        return [index, storage.getStore()];
      });
    if (index % 2 === 0) storage.run(`adder-${index}`, add);
    else add();
  }
  for (const [index, store] of await set.drain()) {
    assert.equal(store, index % 2 === 0 ? `adder-${index}` : undefined);
  }
});

test('mapBounded: fn runs with the store of the code that created the map', async () => {
  const stores = await storage.run('mapper', async () => {
    const out: Array<string | undefined> = [];
    const mapped = mapBounded(
      [1, 2, 3, 4, 5, 6],
      async () => {
        await nextTurn();
        return storage.getStore();
      },
      { concurrency: 2 },
    );
    for await (const store of mapped) out.push(store);
    return out;
  });
  assert.deepEqual(stores, new Array(6).fill('mapper'));
});
