import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { updateMarkdown } from '../src/readme.js';

test('README blocks are regenerated from the JSON results, others left alone', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-readme-'));
  const previous = process.env.SLUICE_LAB_RESULTS;
  process.env.SLUICE_LAB_RESULTS = dir;
  try {
    const result = {
      experiment: 'fileread',
      params: {},
      env: {
        node: 'v20',
        cpus: 2,
        cpuModel: 'cpu',
        kernel: 'Linux',
        memoryGiB: 24,
        date: '2026-11-21T00:00:00Z',
      },
      rows: [
        {
          variant: 'readSync-64k',
          dims: { pass: 'count' },
          runs: [{}],
          median: { mbPerS: 100 },
          ratio: { mbPerS: 1 },
        },
        {
          variant: 'sluice',
          dims: { pass: 'count' },
          runs: [{}],
          median: { mbPerS: 150 },
          ratio: { mbPerS: 1.5 },
        },
      ],
      notes: [],
    };
    writeFileSync(path.join(dir, 'fileread.json'), JSON.stringify(result));
    const input =
      'before\n<!-- lab:fileread -->\nstale\n<!-- /lab:fileread -->\n<!-- lab:zip -->\nkeep\n<!-- /lab:zip -->\n';
    const { text, updated } = updateMarkdown(input);
    assert.deepEqual(updated, ['fileread']);
    assert.match(text, /\| sluice \| count \| 150 \| 1\.50x \|/);
    assert.doesNotMatch(text, /stale/);
    assert.match(text, /<!-- lab:zip -->\nkeep\n<!-- \/lab:zip -->/);
  } finally {
    if (previous === undefined) delete process.env.SLUICE_LAB_RESULTS;
    else process.env.SLUICE_LAB_RESULTS = previous;
    rmSync(dir, { recursive: true, force: true });
  }
});
