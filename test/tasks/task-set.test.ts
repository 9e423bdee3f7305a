import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import fc from 'fast-check';
import { TaskSet } from '../../src/tasks/index.js';

function deferred<T>(): { promise: Promise<T>; resolve(value: T): void; reject(error: unknown): void } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

test('results come in completion order, one per task', async () => {
  const set = new TaskSet<string>({ concurrency: 3 });
  const gates = ['a', 'b', 'c'].map(() => deferred<string>());
  for (const gate of gates) set.add(() => gate.promise);
  gates[2]!.resolve('c');
  gates[0]!.resolve('a');
  const first = await set.next();
  const second = await set.next();
  assert.deepEqual([first.value, second.value], ['c', 'a']);
  gates[1]!.resolve('b');
  assert.deepEqual(await set.drain(), ['b']);
  assert.deepEqual(await set.next(), { done: true, value: undefined });
});

test('bound, exactly-once and collect-all errors over random durations and failures', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.record({ turns: fc.integer({ min: 0, max: 3 }), fails: fc.boolean() }), { maxLength: 50 }),
      async (concurrency, specs) => {
        const set = new TaskSet<number>({ concurrency, policy: 'collect-all' });
        let running = 0;
        const runs = new Array<number>(specs.length).fill(0);
        specs.forEach((spec, index) => {
          set.add(async () => {
            running++;
            runs[index]!++;
            assert.ok(running <= concurrency);
            for (let turn = 0; turn < spec.turns; turn++) await nextTurn();
            running--;
            if (spec.fails) throw new Error(`task ${index}`);
            return index;
          });
        });
        const values: number[] = [];
        let aggregate: unknown;
        try {
          for await (const value of set) values.push(value);
        } catch (error) {
          aggregate = error;
        }
        assert.deepEqual(runs, new Array<number>(specs.length).fill(1));
        const expectedValues = specs.flatMap((spec, index) => (spec.fails ? [] : [index]));
        assert.deepEqual(
          values.sort((a, b) => a - b),
          expectedValues,
        );
        const failures = specs.filter((spec) => spec.fails).length;
        if (failures === 0) assert.equal(aggregate, undefined);
        else {
          assert.ok(aggregate instanceof AggregateError);
          assert.equal(aggregate.errors.length, failures);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('fail-fast: the first error stops the set, aborts running tasks and drops queued ones', async () => {
  const set = new TaskSet<number>({ concurrency: 2 });
  const failing = deferred<number>();
  let abortedReason: unknown;
  let queuedRan = false;
  set.add(() => failing.promise);
  set.add(
    (signal) =>
      new Promise<number>((_, reject) =>
        signal.addEventListener('abort', () => {
          abortedReason = signal.reason;
          reject(signal.reason);
        }),
      ),
  );
  set.add(() => {
    queuedRan = true;
    return 3;
  });
  const boom = new Error('boom');
  failing.reject(boom);
  await assert.rejects(set.drain(), (error) => error === boom);
  assert.equal(abortedReason, boom);
  assert.equal(queuedRan, false);
  assert.equal(set.closed, true);
  assert.throws(() => set.add(() => 1), { code: 'SLUICE_ERR_TASK_SET_CLOSED' });
  assert.deepEqual(await set.next(), { done: true, value: undefined });
});

test('a waiting consumer is rejected as soon as a task fails', async () => {
  const set = new TaskSet<number>({ concurrency: 2 });
  const slow = deferred<number>();
  const failing = deferred<number>();
  set.add(() => slow.promise);
  set.add(() => failing.promise);
  const next = set.next();
  failing.reject(new Error('early'));
  await assert.rejects(next, /early/);
  slow.resolve(1);
});

test('cancel and the signal option stop everything; breaking out of the loop cancels', async () => {
  const controller = new AbortController();
  const set = new TaskSet<number>({ concurrency: 1, signal: controller.signal });
  let secondRan = false;
  set.add(
    (signal) => new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason))),
  );
  set.add(() => {
    secondRan = true;
    return 2;
  });
  assert.equal(set.pendingCount, 1);
  controller.abort('user left');
  await assert.rejects(set.drain(), (error: Error & { code?: string; cause?: unknown }) => {
    assert.equal(error.code, 'SLUICE_ERR_ABORTED');
    assert.equal(error.cause, 'user left');
    return true;
  });
  assert.equal(secondRan, false);

  const looped = new TaskSet<number>({ concurrency: 1 });
  let lateRan = false;
  looped.add(() => 1);
  looped.add(async () => {
    await nextTurn();
    lateRan = true;
    return 2;
  });
  looped.add(() => 3);
  for await (const value of looped) {
    assert.equal(value, 1);
    break;
  }
  assert.equal(looped.closed, true);
  await nextTurn();
  await nextTurn();
  assert.equal(lateRan, true, 'the running task finishes by itself');
  assert.equal(looped.pendingCount, 0);
});

test('a set that ran empty can be filled and iterated again; tasks may be added while iterating', async () => {
  const set = new TaskSet<number>({ concurrency: 2 });
  set.add(() => 1);
  assert.deepEqual(await set.drain(), [1]);
  set.add(() => 10);
  const seen: number[] = [];
  for await (const value of set) {
    seen.push(value);
    if (value < 13) set.add(async () => value + 1);
  }
  assert.deepEqual(seen, [10, 11, 12, 13]);
});

test('rejects bad options', () => {
  assert.throws(() => new TaskSet({ concurrency: 0 }), { code: 'SLUICE_ERR_INVALID_ARGUMENT' });
  assert.throws(() => new TaskSet({ policy: 'maybe' as 'fail-fast' }), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => new TaskSet().add(42 as unknown as () => number), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
});

test('undefined results are results like any other', async () => {
  const set = new TaskSet<undefined>({ concurrency: 1 });
  for (let index = 0; index < 3; index++) set.add(() => undefined);
  assert.deepEqual(await set.drain(), [undefined, undefined, undefined]);
});
