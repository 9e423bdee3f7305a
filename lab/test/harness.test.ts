import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { warmTree } from '../src/harness/data.js';
import { runInChild } from '../src/harness/process.js';
import { addRatios, makeRow, median, percentile } from '../src/harness/stats.js';
import { formatMarkdown, formatTable } from '../src/harness/table.js';
import type { ExperimentResult } from '../src/harness/types.js';

test('median and percentile', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50), 5);
  assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
  assert.equal(percentile([1, 2, 3], 0), 1);
});

test('ratios are taken against the baseline row with the same dims', () => {
  const rows = [
    makeRow('base', { pass: 'count' }, [{ mbPerS: 100 }, { mbPerS: 300 }, { mbPerS: 200 }]),
    makeRow('fast', { pass: 'count' }, [{ mbPerS: 500 }]),
    makeRow('base', { pass: 'touch' }, [{ mbPerS: 50 }]),
    makeRow('fast', { pass: 'touch' }, [{ mbPerS: 75 }]),
    makeRow('lonely', { pass: 'other' }, [{ mbPerS: 1 }]),
  ];
  addRatios(rows, 'base');
  assert.equal(rows[0]!.median.mbPerS, 200);
  assert.equal(rows[1]!.ratio?.mbPerS, 2.5);
  assert.equal(rows[3]!.ratio?.mbPerS, 1.5);
  assert.equal(rows[4]!.ratio, undefined);
  const result: ExperimentResult = {
    experiment: 'x',
    params: {},
    env: {} as ExperimentResult['env'],
    rows,
    notes: [],
  };
  const experiment = {
    metrics: ['mbPerS'],
    headline: { metric: 'mbPerS', higherIsBetter: true },
    baseline: 'base',
  };
  assert.match(formatTable(experiment, result), /fast\s+count\s+500\s+2\.50x/);
  assert.match(formatMarkdown(experiment, result), /\| fast \| count \| 500 \| 2\.50x \|/);
});

test('runInChild returns the metrics and the child process resource usage', async () => {
  const module = new URL('./fixtures/child-task.js', import.meta.url);
  const metrics = await runInChild(module, 'task', { value: 21 });
  assert.equal(metrics.answer, 42);
  assert.ok((metrics.peakRssMb ?? 0) > 10);
  assert.ok((metrics.processUserMs ?? -1) >= 0);
  await assert.rejects(runInChild(module, 'fails', {}), /in a child process failed/);
});

test('warmTree reads every file of a nested tree and skips what is not a file (a FIFO never blocks it)', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'sluice-lab-warm-'));
  try {
    mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    writeFileSync(path.join(root, 'top.bin'), Buffer.alloc(3 << 20, 1)); // over one 1 MiB read
    writeFileSync(path.join(root, 'a', 'b', 'deep.bin'), 'deep');
    const fifo = spawnSync('mkfifo', [path.join(root, 'a', 'fifo')]);
    const opened: string[] = [];
    warmTree(root, (file) => opened.push(path.relative(root, file)));
    assert.deepEqual(opened.sort(), [path.join('a', 'b', 'deep.bin'), 'top.bin']);
    if (fifo.status === 0) assert.ok(existsSync(path.join(root, 'a', 'fifo')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
