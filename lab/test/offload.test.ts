import assert from 'node:assert/strict';
import { test } from 'node:test';
import { offload } from '../src/experiments/offload.js';
import { smokeContext } from './helpers/context.js';

test('offload --quick times the three hand-offs', async () => {
  const result = await offload.run(smokeContext());
  assert.equal(result.experiment, 'offload');
  assert.deepEqual(
    result.rows.map((row) => row.variant),
    ['direct', 'threadpool', 'worker'],
  );
  for (const row of result.rows) {
    for (const metric of offload.metrics)
      assert.ok(Number.isFinite(row.median[metric]) && row.median[metric]! > 0);
  }
});
