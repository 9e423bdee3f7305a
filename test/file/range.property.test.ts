import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { openReader, type Strategy, terminateIdleReadWorkers } from '../../src/file/index.js';
import { defaultPools } from '../../src/file/pools.js';
import { openFds, patternBytes, tempDir, writeFile } from '../helpers/files.js';

let dir: string;
let cleanup: () => void;
const content = patternBytes(300_001, 99);
let file: string;
before(() => {
  ({ dir, cleanup } = tempDir());
  file = writeFile(dir, 'data.bin', content);
});
after(async () => {
  cleanup();
  await terminateIdleReadWorkers();
});

test('for random ranges, windows and strategies, the windows concatenate to the exact slice', async () => {
  const fds = openFds();
  await fc.assert(
    fc.asyncProperty(
      fc.nat(content.length - 1),
      fc.nat(content.length - 1),
      fc.constantFrom<Strategy | 'auto'>('auto', 'threadpool', 'worker', 'sync'),
      fc.integer({ min: 1, max: 70_000 }),
      fc.integer({ min: 0, max: 6 }),
      fc.boolean(),
      async (a, b, strategy, windowSize, readAhead, stopEarly) => {
        const [start, end] = a <= b ? [a, b] : [b, a];
        const reader = await openReader(file, { start, end, strategy, windowSize, readAhead });
        const parts: Buffer[] = [];
        for await (const window of reader) {
          assert.ok(window.length > 0 && window.length <= windowSize);
          parts.push(Buffer.from(window));
          if (stopEarly && parts.length === 2) break;
        }
        const got = Buffer.concat(parts);
        const expected = content.subarray(start, end + 1);
        if (stopEarly) assert.ok(expected.subarray(0, got.length).equals(got));
        else assert.ok(got.equals(expected));
        assert.equal(reader.closed, true);
      },
    ),
    { numRuns: 100 },
  );
  await terminateIdleReadWorkers(); // a worker thread holds fds of its own (its event loop)
  assert.equal(openFds(), fds, 'no fd leaked');
  assert.equal(
    defaultPools().reduce((sum, pool) => sum + pool.stats().inUse, 0),
    0,
    'no window leaked',
  );
});
