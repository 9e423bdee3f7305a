import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wal } from '../src/experiments/wal.js';
import type { RunContext } from '../src/harness/types.js';

const context = (flags: RunContext['flags'] = {}): RunContext => ({
  quick: true,
  full: false,
  runs: 1,
  warmup: 0,
  only: ['sync-in-loop', 'sluice-wal', 'lmdb-flushed'],
  flags,
  progress: () => {},
});

test('wal --quick measures latency (resolved and durable) and durable throughput with the named variants', async () => {
  const result = await wal.run(context());
  assert.equal(result.experiment, 'wal');
  const latency = result.rows.filter((row) => row.dims.phase === 'latency');
  assert.deepEqual(
    latency.map((row) => `${row.variant}/${row.dims.load}/${row.dims.at}`),
    [
      'sync-in-loop/none/resolved',
      'sync-in-loop/none/durable',
      'sluice-wal/none/resolved',
      'sluice-wal/none/durable',
      'sync-in-loop/stress/resolved',
      'sync-in-loop/stress/durable',
      'sluice-wal/stress/resolved',
      'sluice-wal/stress/durable',
    ],
  );
  const throughput = result.rows.filter((row) => row.dims.phase === 'throughput');
  assert.deepEqual(
    throughput.map((row) => row.variant),
    ['lmdb-flushed', 'sluice-wal'],
  );
  for (const row of [...latency, ...throughput]) {
    if (row.skipped !== undefined) continue;
    for (const metric of wal.metrics) {
      assert.ok(Number.isFinite(row.median[metric]), `${row.variant} ${JSON.stringify(row.dims)} ${metric}`);
    }
    assert.ok(row.median.p50Ms! <= row.median.maxMs!);
  }
  const durable = latency.find((row) => row.variant === 'sluice-wal' && row.dims.at === 'durable')!;
  const resolved = latency.find((row) => row.variant === 'sluice-wal' && row.dims.at === 'resolved')!;
  assert.ok(
    durable.median.maxMs! <= resolved.median.maxMs! + 1,
    'durable happens before the promise resolves',
  );
  assert.match(String(result.params.fileSystem), /\w/);
});

test('wal --crash N runs N SIGKILL trials and loses nothing', async () => {
  const result = await wal.run(context({ crash: '5' }));
  const [row] = result.rows;
  assert.equal(row?.median.trials, 5);
  assert.equal(row?.median.lostRecords, 0);
  assert.equal(row?.median.corruptRecords, 0);
});
