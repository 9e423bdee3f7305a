import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseStraceCounts } from '../src/experiments/write.js';
import type { ExperimentResult } from '../src/harness/types.js';

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('parseStraceCounts sums the write-family calls of strace -c', () => {
  const text = [
    '% time     seconds  usecs/call     calls    errors syscall',
    '------ ----------- ----------- --------- --------- ------------------',
    ' 51.11    0.000023           0        24           brk',
    ' 20.00    0.000010           0       382           pwritev',
    '  6.67    0.000003           0         3           write',
    '  0.00    0.000000           0         7         2 writev',
    '------ ----------- ----------- --------- --------- ------------------',
    '100.00    0.000045           0       416         2 total',
  ].join('\n');
  assert.equal(parseStraceCounts(text), 392);
});

test('sluice-lab write --quick: rows for every variant, the JSON shape, the counted syscalls', {
  timeout: 120_000,
}, async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-lab-write-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const json = path.join(dir, 'write.json');
  await promisify(execFile)(
    process.execPath,
    [
      cli,
      'write',
      '--quick',
      '--runs',
      '1',
      '--warmup',
      '0',
      '--lines=5000',
      '--frames=5000',
      '--json',
      json,
    ],
    { env: { ...process.env, SLUICE_LAB_LOCK: '0' }, timeout: 110_000 },
  );
  const result = JSON.parse(readFileSync(json, 'utf8')) as ExperimentResult;
  assert.equal(result.experiment, 'write');
  assert.ok(result.env.node);
  const variants = ['writeSync-per-line', 'createWriteStream', 'sonic-boom', 'sluice'];
  for (const workload of ['file', 'socket']) {
    const rows = result.rows.filter((row) => row.dims.workload === workload);
    assert.deepEqual(
      rows.map((row) => row.variant),
      variants,
      `${workload} rows`,
    );
    for (const row of rows) {
      if (row.skipped !== undefined) {
        assert.equal(workload, 'socket', `only socket rows may be skipped (${row.variant})`);
        continue;
      }
      assert.equal(row.runs.length, 1);
      for (const metric of ['ms', 'mbPerS', 'peakRssMb']) {
        assert.ok((row.median[metric] ?? 0) > 0, `${workload} ${row.variant} ${metric}`);
      }
      if (result.notes.some((note) => note.startsWith('syscallsPerOp: '))) {
        assert.ok(typeof row.median.syscallsPerOp === 'number', `${workload} ${row.variant} syscallsPerOp`);
      }
    }
  }
  const file = (variant: string) =>
    result.rows.find((row) => row.variant === variant && row.dims.workload === 'file')!;
  assert.equal(file('createWriteStream').ratio?.mbPerS, 1, 'ratios are to the createWriteStream row');
  if (file('sluice').median.syscallsPerOp !== undefined) {
    // behaviour, not speed: one write syscall per line vs one per batch
    assert.ok(file('writeSync-per-line').median.syscallsPerOp! >= 1);
    assert.ok(file('sluice').median.syscallsPerOp! < 0.05);
  }
});
