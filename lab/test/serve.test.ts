import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serve } from '../src/experiments/serve.js';
import type { RunContext } from '../src/harness/types.js';

test('serve --quick: every variant runs (or is skipped with a reason) and the JSON has the agreed shape', async () => {
  const context: RunContext = {
    quick: true,
    full: false,
    runs: 1,
    warmup: 0,
    // the cheap variants and the peer; thread-per-client starts a worker per client (slow to boot)
    only: ['stream-pipe', 'sluice', 'nginx'],
    flags: {},
    progress: () => {},
  };
  const result = await serve.run(context);
  assert.equal(result.experiment, 'serve');
  assert.deepEqual([...serve.variants], ['thread-per-client', 'stream-pipe', 'sluice', 'nginx']);
  assert.equal(serve.baseline, 'thread-per-client');
  const variants = new Set(result.rows.map((row) => row.variant));
  assert.deepEqual([...variants].sort(), ['nginx', 'sluice', 'stream-pipe']);
  for (const row of result.rows) {
    assert.deepEqual(Object.keys(row.dims).sort(), ['clients', 'clients_kind', 'file']);
    if (row.skipped !== undefined) continue;
    assert.equal(row.runs.length, 1);
    for (const metric of serve.metrics)
      assert.equal(typeof row.median[metric], 'number', `${row.variant} ${metric}`);
    assert.equal(row.median.errors, 0, `${row.variant} ${JSON.stringify(row.dims)} had errors`);
    if (row.variant === 'sluice') {
      assert.equal(row.median.windowsInUseAfter, 0, 'sluice returned every window');
      assert.equal(row.median.openFilesAfter, 0, 'sluice closed every file');
      assert.ok(row.median.openFdsAfter! <= row.median.openFdsStart!, 'sluice fds back to the start count');
    }
  }
});

test("parseWrk reads wrk's summary: requests, duration, max latency, errors", async () => {
  const { parseWrk } = await import('../src/experiments/serve/wrk.js');
  const output = `Running 5s test @ http://127.0.0.1:8080/serve-2MiB.bin
  1 threads and 50 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    45.12ms   10.01ms   1.20s    90.00%
    Req/Sec     1.10k   100.00     1.30k    70.00%
  5500 requests in 5.01s, 10.75GB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   1097.80
Transfer/sec:      2.15GB
`;
  const result = parseWrk(output);
  assert.equal(result.requests, 5500);
  assert.equal(result.seconds, 5.01);
  assert.equal(result.maxLatencyMs, 1200);
  assert.equal(result.errors, 7);
  assert.throws(() => parseWrk('wrk: connection refused'));
});
