import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cooperative, monitorLag } from '../../src/tasks/index.js';

test('timers fire during a long cooperative loop', async () => {
  let ticks = 0;
  const interval = setInterval(() => ticks++, 1);
  let ticksMidway = 0;
  let count = 0;
  function* items(): Generator<number> {
    for (let index = 0; index < 200_000; index++) yield index;
  }
  for await (const _ of cooperative(items(), { every: 1000 })) {
    count++;
    if (count === 199_999) ticksMidway = ticks;
  }
  clearInterval(interval);
  assert.equal(count, 200_000);
  assert.ok(ticksMidway > 0, 'no timer ran during the loop');
});

test('yields every N items: a macrotask runs between batches', async () => {
  const batchesSeen: number[] = [];
  let index = 0;
  let immediateFired = false;
  setImmediate(() => {
    immediateFired = true;
  });
  for await (const _ of cooperative(
    Array.from({ length: 25 }, (_, i) => i),
    { every: { items: 10 } },
  )) {
    if (immediateFired && batchesSeen.length === 0) batchesSeen.push(index);
    index++;
  }
  // The first macrotask can run only once the first 10 items were handed out.
  assert.deepEqual(batchesSeen, [10]);
});

test('async sources; leaving the loop closes the source; bad options are rejected', async () => {
  let closed = false;
  async function* source(): AsyncGenerator<number> {
    try {
      for (let index = 0; ; index++) yield index;
    } finally {
      closed = true;
    }
  }
  for await (const value of cooperative(source(), { every: { ms: 2 } })) if (value === 50) break;
  assert.equal(closed, true);
  for (const every of [0, -1, {}, 'x', { items: 0 }]) {
    await assert.rejects(cooperative([1], { every: every as number }).next(), {
      code: 'SLUICE_ERR_INVALID_ARGUMENT',
    });
  }
});

test('monitorLag reports the delay of a blocked event loop', async () => {
  const lag = monitorLag({ resolutionMs: 1 });
  await new Promise((resolve) => setTimeout(resolve, 5));
  const blockUntil = Date.now() + 30;
  while (Date.now() < blockUntil) {
    // block the event loop
  }
  await new Promise((resolve) => setTimeout(resolve, 5));
  const snapshot = lag.snapshot();
  assert.ok(snapshot.samples > 0);
  assert.ok(snapshot.maxMs >= 20, `max lag ${snapshot.maxMs} ms after blocking 30 ms`);
  lag.reset();
  lag.stop();
  lag.stop();
  assert.throws(() => monitorLag({ resolutionMs: 0 }), { code: 'SLUICE_ERR_INVALID_ARGUMENT' });
});
