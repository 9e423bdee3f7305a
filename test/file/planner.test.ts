import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  load,
  plan,
  recordThroughput,
  resetMeasurements,
  SYNC_MAX_BYTES,
  threadpoolSize,
} from '../../src/file/planner.js';

const MiB = 1024 * 1024;
const auto = (length: number, extra: Partial<Parameters<typeof plan>[0]> = {}) =>
  plan({
    length,
    strategy: 'auto',
    windowSize: undefined,
    readAhead: undefined,
    poolSlabSize: undefined,
    ...extra,
  });

afterEach(() => {
  resetMeasurements();
  load.openReaders = 0;
  load.threadpoolReadsInFlight = 0;
  load.busyWorkers = 0;
});

test('small ranges are read synchronously, in one window', () => {
  const chosen = auto(SYNC_MAX_BYTES);
  assert.equal(chosen.strategy, 'sync');
  assert.ok(chosen.windowSize >= SYNC_MAX_BYTES);
  assert.equal(auto(100).windowSize, 4096);
});

test('large files go to the threadpool with reads in flight', () => {
  const chosen = auto(600 * MiB);
  assert.equal(chosen.strategy, 'threadpool');
  assert.equal(chosen.readAhead, threadpoolSize);
  assert.equal(chosen.windowSize, 2 * MiB);
});

test('a second open reader gets 1 MiB windows', () => {
  load.openReaders = 1;
  const chosen = auto(600 * MiB);
  assert.equal(chosen.windowSize, MiB);
});

test('many open readers get smaller windows and less read-ahead', () => {
  load.openReaders = 1000;
  const chosen = auto(600 * MiB);
  assert.equal(chosen.windowSize, 64 * 1024);
  assert.equal(chosen.readAhead, 1);
});

test('a saturated threadpool sends a large read to an idle worker', () => {
  load.threadpoolReadsInFlight = threadpoolSize;
  assert.equal(auto(600 * MiB).strategy, 'worker');
  load.busyWorkers = 1;
  assert.equal(auto(600 * MiB).strategy, 'threadpool');
});

test('measured throughput decides between threadpool and worker', () => {
  recordThroughput('threadpool', 100 * MiB, 100);
  recordThroughput('worker', 100 * MiB, 50);
  assert.equal(auto(600 * MiB).strategy, 'worker');
  recordThroughput('worker', 1 * MiB, 1000); // too small to count
  assert.equal(auto(600 * MiB).strategy, 'worker');
});

test('a caller pool fixes the window and rules out the worker', () => {
  load.threadpoolReadsInFlight = 100;
  const chosen = auto(600 * MiB, { poolSlabSize: 32 * 1024 });
  assert.equal(chosen.strategy, 'threadpool');
  assert.equal(chosen.windowSize, 32 * 1024);
});

test('explicit choices win', () => {
  assert.deepEqual(
    plan({ length: 10, strategy: 'worker', windowSize: 8192, readAhead: 2, poolSlabSize: undefined }),
    {
      strategy: 'worker',
      windowSize: 8192,
      readAhead: 2,
    },
  );
});
