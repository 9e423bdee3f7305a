import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ExperimentResult } from '../src/harness/types.js';

const run = promisify(execFile);
const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

test('rtt --quick runs and writes rows for every variant with the DESIGN.md metric names', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sluice-rtt-'));
  try {
    const json = path.join(dir, 'rtt.json');
    await run(process.execPath, [cli, 'rtt', '--quick', '--runs', '1', '--warmup', '0', '--json', json], {
      env: { ...process.env, SLUICE_LAB_LOCK: '0' },
      timeout: 120_000,
    });
    const result = JSON.parse(readFileSync(json, 'utf8')) as ExperimentResult;
    assert.equal(result.experiment, 'rtt');
    const variants = new Set(result.rows.map((row) => row.variant));
    for (const variant of ['net-naive', 'sluice', 'sockperf']) assert.ok(variants.has(variant), variant);
    for (const row of result.rows) {
      assert.deepEqual(Object.keys(row.dims).slice(0, 5), ['proto', 'rate', 'loop', 'load', 'loadKind']);
      if (row.skipped !== undefined) continue;
      for (const metric of ['p50Us', 'p99Us', 'achievedRate']) {
        assert.ok((row.median[metric] ?? 0) > 0, `${row.variant} ${JSON.stringify(row.dims)} ${metric}`);
      }
      assert.ok(row.median.p99Us! >= row.median.p50Us!);
    }
    const sluiceTcp = result.rows.find(
      (row) => row.variant === 'sluice' && row.dims.proto === 'tcp' && row.dims.rate === 'max',
    );
    assert.ok(sluiceTcp?.ratio?.p50Us !== undefined, 'sluice rows carry ratios to net-naive');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
