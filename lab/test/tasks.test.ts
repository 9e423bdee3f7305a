import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tasks } from '../src/experiments/tasks.js';
import { addRatios } from '../src/harness/stats.js';
import { smokeContext } from './helpers/context.js';

test('tasks experiment: a quick run yields every variant with the documented metrics', async () => {
  const result = await tasks.run(smokeContext());
  addRatios(result.rows, tasks.baseline);
  assert.equal(result.experiment, 'tasks');
  assert.deepEqual(new Set(result.rows.map((row) => row.variant)), new Set(tasks.variants));
  for (const row of result.rows) {
    if (row.skipped !== undefined) continue;
    for (const metric of ['ms', 'tasksPerS', 'maxLagMs']) {
      assert.equal(typeof row.median[metric], 'number', `${row.variant} lacks ${metric}`);
      assert.ok(row.median[metric]! >= 0);
    }
    assert.ok(['at-once', 'one-at-a-time'].includes(String(row.dims.settle)));
    assert.equal(typeof row.dims.n, 'number');
    if (row.variant !== 'p-limit')
      assert.equal(typeof row.ratio?.tasksPerS, 'number', `${row.variant} has no ratio`);
  }
  assert.ok(result.notes.length > 0);
});
