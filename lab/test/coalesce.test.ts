import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseStraceCounts } from '../src/experiments/net/strace.js';
import type { ExperimentResult } from '../src/harness/types.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('strace -c summaries are parsed', () => {
  const summary = [
    '% time     seconds  usecs/call     calls    errors syscall',
    '------ ----------- ----------- --------- --------- ----------------',
    ' 62.50    0.000250           2       120           write',
    ' 37.50    0.000150           5        30         2 writev',
    '------ ----------- ----------- --------- --------- ----------------',
    '100.00    0.000400           2       150         2 total',
  ].join('\n');
  assert.deepEqual(parseStraceCounts(summary), { write: 120, writev: 30 });
});

test('coalesce --quick runs both variants; sluice batches its writes', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-coalesce-'));
  try {
    const json = path.join(dir, 'coalesce.json');
    await run(
      process.execPath,
      [cli, 'coalesce', '--quick', '--runs', '1', '--warmup', '0', '--json', json],
      {
        env: { ...process.env, SLUICE_LAB_LOCK: '0' },
        timeout: 120_000,
      },
    );
    const result = JSON.parse(readFileSync(json, 'utf8')) as ExperimentResult;
    assert.equal(result.experiment, 'coalesce');
    assert.deepEqual([...new Set(result.rows.map((row) => row.variant))].sort(), [
      'sluice',
      'write-per-message',
    ]);
    for (const row of result.rows) {
      for (const metric of ['opsPerS', 'syscallsPerOp', 'p99Us'])
        assert.ok((row.median[metric] ?? 0) > 0, metric);
    }
    const at = (variant: string, inFlight: number) =>
      result.rows.find((row) => row.variant === variant && row.dims.inFlight === inFlight)!;
    // Behaviour, not speed: one write per message without coalescing, far fewer with it.
    assert.ok(at('write-per-message', 1000).median.syscallsPerOp! >= 0.9);
    assert.ok(at('sluice', 1000).median.syscallsPerOp! < 0.5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
