import assert from 'node:assert/strict';
import { test } from 'node:test';
import { scan } from '../src/experiments/scan.js';
import { NeedleSearch } from '../src/experiments/scan-search.js';
import { smokeContext } from './helpers/context.js';

test('the needle search counts matches inside windows and across every seam', () => {
  const text = Buffer.from('..zqzq..zqzqzq.zq');
  const needle = 'zqzq';
  const expected = 3; // at 2, 8 and 10 (overlapping matches count)
  for (let cut = 1; cut <= text.length; cut++) {
    const search = new NeedleSearch(needle);
    search.begin();
    for (let at = 0; at < text.length; at += cut) search.feed(text.subarray(at, at + cut));
    assert.equal(search.matches, expected, `windows of ${cut} bytes`);
  }
  const perFile = new NeedleSearch(needle);
  perFile.begin();
  perFile.feed(Buffer.from('..zq'));
  perFile.begin(); // a new file: no match spans the two
  perFile.feed(Buffer.from('zq..'));
  assert.equal(perFile.matches, 0);
});

test('scan --quick searches the tree and the large file with every variant in child processes', async () => {
  const context = smokeContext();
  const result = await scan.run(context);
  assert.equal(result.experiment, 'scan');
  const labels = result.rows.map((row) => `${row.variant} ${row.dims.input} ${row.dims.readers}`);
  const expected: string[] = [];
  for (const input of ['tree', 'large'])
    for (const readers of [1, 4])
      for (const variant of scan.variants) {
        // sluice-main differs from sluice only in the tree's visits: no large-file rows
        if (!(variant === 'sluice-main' && input === 'large'))
          expected.push(`${variant} ${input} ${readers}`);
      }
  assert.deepEqual(labels, expected);
  for (const row of result.rows) {
    assert.equal(row.runs.length, 1);
    for (const metric of scan.metrics) {
      assert.ok(Number.isFinite(row.median[metric]), `${row.variant} ${metric}`);
    }
  }
  assert.ok(result.notes.some((note) => note.startsWith('tree: sluice at its best')));
});
