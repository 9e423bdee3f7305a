import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileread } from '../src/experiments/fileread.js';
import type { RunContext } from '../src/harness/types.js';

test('fileread --quick runs its cases in child processes and reports every metric', async () => {
  const context: RunContext = {
    quick: true,
    full: false,
    runs: 1,
    warmup: 0,
    only: ['readSync-64k', 'readFile', 'sluice', 'sluice-worker', 'sluice-readAll', 'sluice-readAll-js'],
    flags: {},
    progress: () => {},
  };
  const result = await fileread.run(context);
  assert.equal(result.experiment, 'fileread');
  const count = result.rows.filter((row) => row.dims.pass === 'count').map((row) => row.variant);
  assert.deepEqual(count, [
    'readSync-64k',
    'readFile',
    'sluice',
    'sluice-worker',
    'sluice-readAll',
    'sluice-readAll-js',
  ]);
  assert.ok(
    result.notes.some((note) => note.startsWith('sluice-readAll: ')),
    'the notes say whether the native addon was built',
  );
  const touch = result.rows.filter((row) => row.dims.pass === 'touch').map((row) => row.variant);
  assert.deepEqual(touch, ['readSync-64k', 'sluice', 'sluice-worker']);
  for (const row of result.rows) {
    assert.equal(row.runs.length, 1);
    for (const metric of fileread.metrics) {
      assert.equal(typeof row.median[metric], 'number', `${row.variant} ${metric}`);
      assert.ok(Number.isFinite(row.median[metric]), `${row.variant} ${metric}`);
    }
  }
});
