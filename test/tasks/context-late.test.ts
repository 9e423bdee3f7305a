import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
import { test } from 'node:test';
import { limit } from '../../src/tasks/index.js';

// Created, but not used before the first task is queued (this file runs in its own process). The
// tasks are queued while the module loads: node:test turns an async_hooks init hook on once tests
// run, and a task queued while one is on is captured, which is not the path checked here.
const storage = new AsyncLocalStorage<string>();
const noHookWhileQueueing = Object.getOwnPropertySymbols(Promise.resolve()).length === 0;
const limited = limit(1);
let releaseFirst!: () => void;
const first = limited(() => new Promise<void>((resolve) => (releaseFirst = resolve)));
const queued = limited(() => storage.getStore());
const signalled = limited(() => storage.getStore(), { signal: new AbortController().signal });

test('a task queued before any store existed runs without one, whoever starts it', async () => {
  assert.ok(noHookWhileQueueing, 'the tasks were queued while an init hook was on: nothing is checked');
  // Started from inside a store: raising the bound starts the queued tasks right here.
  const seen = storage.run('late', () => {
    limited.concurrency = 3;
    return storage.getStore();
  });
  assert.equal(seen, 'late');
  assert.equal(await queued, undefined);
  assert.equal(await signalled, undefined);
  releaseFirst();
  await first;
});

test('clearQueue drops plain and signalled tasks alike', async () => {
  const limited = limit(1);
  let release!: () => void;
  const running = limited(() => new Promise<void>((resolve) => (release = resolve)));
  const controller = new AbortController();
  const plain = limited(() => 1);
  const signalled = limited(() => 2, { signal: controller.signal });
  const aborted = limited(() => 3, { signal: controller.signal });
  const abortedEarly = new AbortController();
  const gone = limited(() => 4, { signal: abortedEarly.signal });
  abortedEarly.abort();
  await assert.rejects(gone, { code: 'SLUICE_ERR_ABORTED' });
  assert.equal(limited.pendingCount, 3);
  assert.equal(limited.clearQueue(), 3);
  for (const promise of [plain, signalled, aborted]) {
    await assert.rejects(promise, { code: 'SLUICE_ERR_TASK_CANCELLED' });
  }
  controller.abort(); // after clearQueue: nothing left listening, nothing settles twice
  release();
  await running;
  assert.equal(limited.activeCount, 0);
  assert.equal(limited.pendingCount, 0);
});
