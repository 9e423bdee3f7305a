import assert from 'node:assert/strict';
import { test } from 'node:test';
import { zip } from '../src/experiments/zip.js';
import { smokeContext } from './helpers/context.js';

test('zip --quick runs every variant in a child process and reports every metric', async () => {
  const context = smokeContext();
  const result = await zip.run(context);
  assert.equal(result.experiment, 'zip');
  assert.deepEqual(
    result.rows.map((row) => row.variant),
    ['archiver', 'client-zip', 'yazl', 'sluice-cold', 'sluice-warm', 'raw-read'],
  );
  for (const row of result.rows) {
    assert.equal(row.runs.length, 1);
    for (const metric of zip.metrics) {
      assert.ok(Number.isFinite(row.median[metric]), `${row.variant} ${metric}`);
    }
  }
});
