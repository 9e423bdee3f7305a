import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { limit, mapBounded, TaskSet } from '../../src/tasks/index.js';

// The tasks below are queued while this module loads: node:test turns an async_hooks init hook on
// once tests run, and a task queued while one is on is captured, which is not the path checked
// here. Queued with no hook on, they run in the shared empty context.
const storage = new AsyncLocalStorage<string>();
const noHookWhileQueueing = Object.getOwnPropertySymbols(Promise.resolve()).length === 0;

/** A task that enters a store, and sees it before and after awaiting. */
async function entering(store: string): Promise<Array<string | undefined>> {
  storage.enterWith(store);
  const before = storage.getStore();
  await nextTurn();
  return [before, storage.getStore()];
}

const limited = limit(1);
let releaseLimited!: () => void;
const limitedFirst = limited(() => new Promise<void>((resolve) => (releaseLimited = resolve)));
const limitedEntering = limited(() => entering('limit'));
const limitedAfter = limited(() => [storage.getStore()]);

const set = new TaskSet<Array<string | undefined>>({ concurrency: 1 });
let releaseSet!: () => void;
set.add(() => new Promise<Array<string | undefined>>((resolve) => (releaseSet = () => resolve([]))));
set.add(() => entering('set'));
set.add(() => [storage.getStore()]);

const mapped = mapBounded([0, 1, 2], (item) => (item === 1 ? entering('map') : [storage.getStore()]), {
  concurrency: 1,
});

test('a store a task queued without one enters stays its own: later such tasks see none', async () => {
  assert.ok(noHookWhileQueueing, 'the tasks were queued while an init hook was on: nothing is checked');
  storage.run('elsewhere', () => {}); // the storage is enabled only now, after the tasks were queued
  releaseLimited();
  await limitedFirst;
  assert.deepEqual(await limitedEntering, ['limit', 'limit'], 'enterWith works inside the task');
  assert.deepEqual(await limitedAfter, [undefined], 'limit');

  releaseSet();
  assert.deepEqual(await set.drain(), [[], ['set', 'set'], [undefined]], 'TaskSet');

  const results: Array<Array<string | undefined>> = [];
  for await (const result of mapped) results.push(result);
  assert.deepEqual(results, [[undefined], ['map', 'map'], [undefined]], 'mapBounded');
});
