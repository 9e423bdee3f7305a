import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { limit } from '../../src/tasks/index.js';

test('never runs more than the limit, checked at every start; every task runs exactly once', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 8 }),
      fc.array(fc.record({ turns: fc.integer({ min: 0, max: 3 }), fails: fc.boolean() }), { maxLength: 60 }),
      async (concurrency, specs) => {
        const limited = limit(concurrency);
        let running = 0;
        const runs = new Array<number>(specs.length).fill(0);
        const results = await Promise.allSettled(
          specs.map((spec, index) =>
            limited(async () => {
              running++;
              runs[index]!++;
              assert.ok(running <= concurrency, `running ${running} > limit ${concurrency}`);
              assert.ok(limited.activeCount <= concurrency);
              for (let turn = 0; turn < spec.turns; turn++) await nextTurn();
              running--;
              if (spec.fails) throw new Error(`task ${index} fails`);
              return index;
            }),
          ),
        );
        assert.deepEqual(runs, new Array<number>(specs.length).fill(1));
        results.forEach((result, index) => {
          if (specs[index]!.fails) assert.equal(result.status, 'rejected');
          else assert.deepEqual(result, { status: 'fulfilled', value: index });
        });
        assert.equal(limited.activeCount, 0);
        assert.equal(limited.pendingCount, 0);
      },
    ),
    { numRuns: 60 },
  );
});

test('tasks start in submission order; counts follow', async () => {
  const limited = limit(2);
  const started: number[] = [];
  const gates: Array<() => void> = [];
  const all = [0, 1, 2, 3, 4].map((index) =>
    limited(
      () =>
        new Promise<void>((resolve) => {
          started.push(index);
          gates[index] = resolve;
        }),
    ),
  );
  assert.deepEqual(started, [0, 1], 'free slots start synchronously');
  assert.equal(limited.activeCount, 2);
  assert.equal(limited.pendingCount, 3);
  gates[1]!();
  await nextTurn();
  assert.deepEqual(started, [0, 1, 2]);
  gates[0]!();
  gates[2]!();
  await nextTurn();
  gates[3]!();
  await nextTurn();
  gates[4]!();
  await Promise.all(all);
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
});

test('a task that throws synchronously or rejects never wedges the limiter', async () => {
  const limited = limit(1);
  await assert.rejects(
    limited(() => {
      throw new Error('sync');
    }),
    /sync/,
  );
  await assert.rejects(
    limited(() => Promise.reject(new Error('async'))),
    /async/,
  );
  const queued = [limited(() => Promise.reject(new Error('queued'))), limited(() => 'after')];
  await assert.rejects(queued[0]!, /queued/);
  assert.equal(await queued[1], 'after');
  assert.equal(await limited(() => 42), 42);
  assert.equal(limited.activeCount, 0);
});

test('aborting a waiting task releases its caller at once and it never runs', async () => {
  const limited = limit(1);
  let release!: () => void;
  const blocker = limited(() => new Promise<void>((resolve) => (release = resolve)));
  const controller = new AbortController();
  let ran = false;
  const waiting = limited(
    () => {
      ran = true;
    },
    { signal: controller.signal },
  );
  const behind = limited(() => 'behind');
  assert.equal(limited.pendingCount, 2);
  controller.abort(new Error('changed my mind'));
  await assert.rejects(waiting, (error: Error & { code?: string; cause?: unknown }) => {
    assert.equal(error.code, 'SLUICE_ERR_ABORTED');
    assert.match(String((error.cause as Error).message), /changed my mind/);
    return true;
  });
  assert.equal(limited.pendingCount, 1);
  release();
  await blocker;
  assert.equal(await behind, 'behind');
  assert.equal(ran, false);
  const aborted = AbortSignal.abort();
  await assert.rejects(
    limited(() => 1, { signal: aborted }),
    { code: 'SLUICE_ERR_ABORTED' },
  );
});

test('a running task receives its signal', async () => {
  const limited = limit(1);
  const controller = new AbortController();
  const result = limited(
    (signal) =>
      new Promise((_, reject) =>
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true }),
      ),
    { signal: controller.signal },
  );
  controller.abort(new Error('stop'));
  await assert.rejects(result, /stop/);
  assert.equal(limited.activeCount, 0);
});

test('clearQueue rejects every waiting task with SLUICE_ERR_TASK_CANCELLED', async () => {
  const limited = limit(1);
  let release!: () => void;
  const running = limited(() => new Promise<void>((resolve) => (release = resolve)));
  const waiting = [1, 2, 3].map((value) => limited(() => value));
  assert.equal(limited.clearQueue('shutdown'), 3);
  assert.equal(limited.pendingCount, 0);
  for (const promise of waiting) {
    await assert.rejects(promise, (error: Error & { code?: string; cause?: unknown }) => {
      assert.equal(error.code, 'SLUICE_ERR_TASK_CANCELLED');
      assert.equal(error.cause, 'shutdown');
      return true;
    });
  }
  release();
  await running;
  assert.equal(await limited(() => 'still works'), 'still works');
});

test('raising concurrency starts waiting tasks at once', async () => {
  const limited = limit(1);
  const gates: Array<() => void> = [];
  const all = [0, 1, 2].map(() => limited(() => new Promise<void>((resolve) => gates.push(resolve))));
  assert.equal(limited.activeCount, 1);
  limited.concurrency = 3;
  assert.equal(limited.activeCount, 3);
  for (const gate of gates) gate();
  await Promise.all(all);
  assert.throws(() => {
    limited.concurrency = 0;
  }, /concurrency must be an integer >= 1/);
});

test('rejects bad arguments with SLUICE_ERR_INVALID_ARGUMENT', async () => {
  for (const bad of [0, -1, 1.5, Number.NaN, '2']) {
    assert.throws(() => limit(bad as number), { code: 'SLUICE_ERR_INVALID_ARGUMENT' });
  }
  const limited = limit(Number.POSITIVE_INFINITY);
  await assert.rejects(limited('nope' as unknown as () => void), { code: 'SLUICE_ERR_INVALID_ARGUMENT' });
});

test('timers fire while many immediately-settling tasks drain', async () => {
  const limited = limit(100);
  let timerFired = false;
  let finishedBeforeTimer = true;
  const timer = sleep(1).then(() => {
    timerFired = true;
  });
  const all: Promise<number>[] = [];
  for (let index = 0; index < 200_000; index++) all.push(limited(() => Promise.resolve(index)));
  let completed = 0;
  for (const promise of all) {
    promise.then(() => {
      completed++;
      if (timerFired && completed < all.length) finishedBeforeTimer = false;
    });
  }
  await Promise.all(all);
  await timer;
  assert.equal(finishedBeforeTimer, false, 'the timer fired only after the whole drain');
});
