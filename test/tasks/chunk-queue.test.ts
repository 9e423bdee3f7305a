import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { ChunkQueue } from '../../src/tasks/chunk-queue.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('ChunkQueue behaves as an array queue under any mix of push, shift and clear', () => {
  fc.assert(
    fc.property(
      // Runs of pushes and shifts long enough to cross chunk boundaries (64, 128, ... 4096 slots).
      fc.array(
        fc.oneof(
          fc.record({ op: fc.constant('push' as const), count: fc.integer({ min: 1, max: 3000 }) }),
          fc.record({ op: fc.constant('shift' as const), count: fc.integer({ min: 1, max: 3000 }) }),
          fc.record({ op: fc.constant('clear' as const), count: fc.constant(1) }),
        ),
        { maxLength: 30 },
      ),
      (ops) => {
        const queue = new ChunkQueue<number | undefined>();
        const model: Array<number | undefined> = [];
        let next = 0;
        for (const { op, count } of ops) {
          for (let index = 0; index < count; index++) {
            if (op === 'push') {
              // `undefined` is an item like any other (a task set queues it as "no context").
              const item = next++ % 7 === 0 ? undefined : next;
              queue.push(item);
              model.push(item);
            } else if (op === 'shift') {
              assert.equal(queue.shift(), model.shift());
            } else {
              queue.clear();
              model.length = 0;
            }
            assert.equal(queue.length, model.length);
          }
        }
        for (const expected of model) assert.equal(queue.shift(), expected);
        assert.equal(queue.shift(), undefined);
        assert.equal(queue.length, 0);
      },
    ),
    { numRuns: 100 },
  );
});

test('ChunkQueue keeps no shifted item alive', async () => {
  const queue = new ChunkQueue<object>();
  const collected: number[] = [];
  const registry = new FinalizationRegistry<number>((index) => collected.push(index));
  // Enough items to use up several chunks, including a full-size one kept as the spare. Pushed
  // from a function of its own: this async function's frame would keep the last one alive.
  const fill = (): void => {
    for (let index = 0; index < 10_000; index++) {
      const item = {};
      registry.register(item, index);
      queue.push(item);
    }
  };
  fill();
  for (let index = 0; index < 10_000; index++) queue.shift();
  queue.push({}); // one live item keeps the queue (and its chunks) in use
  assert.equal(queue.length, 1);
  for (let attempt = 0; attempt < 10 && collected.length < 10_000; attempt++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.equal(collected.length, 10_000);
});
