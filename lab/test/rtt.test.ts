import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { KindFlipper } from '../src/experiments/net/naive-frames.js';
import { pairedPing } from '../src/experiments/net/paired-bench.js';
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

test('paired-bench: every pair answers through its own server; bad pairs and arguments are refused', async () => {
  const pairs = ['naive>naive', 'sluice>sluice', 'raw>sluice', 'raw>flip', 'sluice>flip'];
  const results = await pairedPing({ rate: 0, samples: 30, pairs, warmup: 10 });
  assert.deepEqual(
    results.map((result) => result.pair),
    pairs,
  );
  for (const result of results) {
    assert.equal(result.samples, 30, result.pair);
    assert.ok(result.p50Us > 0 && result.p99Us >= result.p50Us, JSON.stringify(result));
  }
  // Paced: 60 pings at 2000 msg/s over both pairs take about 30 ms, not less.
  const started = performance.now();
  await pairedPing({ rate: 2000, samples: 30, pairs: ['raw>flip', 'naive>naive'], warmup: 5 });
  assert.ok(performance.now() - started >= 25);
  await assert.rejects(
    pairedPing({ rate: 0, samples: 1, pairs: ['naive>sluice'] }),
    /unknown pair "naive>sluice"/,
  );
  await assert.rejects(pairedPing({ rate: 0, samples: 1, pairs: [] }), /no pairs/);
  await assert.rejects(pairedPing({ rate: 0, samples: 1, pairs: ['raw>flip', 'raw>flip'] }), /twice/);
  await assert.rejects(pairedPing({ rate: -1, samples: 1, pairs: ['raw>flip'] }), /rate/);
  await assert.rejects(pairedPing({ rate: 0, samples: 0, pairs: ['raw>flip'] }), /samples/);
});

test('the flip-frame echo turns requests into replies with frames cut at any chunk boundary (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ kind: fc.constantFrom(0, 1, 2), body: fc.uint8Array({ maxLength: 40 }) }), {
        maxLength: 8,
      }),
      fc.array(fc.nat(), { maxLength: 10 }),
      (frames, cuts) => {
        const encode = (kind: number, body: Uint8Array): Buffer => {
          const frame = Buffer.alloc(9 + body.length);
          frame.writeUInt32BE(5 + body.length, 0);
          frame[4] = kind;
          frame.set(body, 9);
          return frame;
        };
        const input = Buffer.concat(frames.map(({ kind, body }) => encode(kind, body)));
        const expected = Buffer.concat(frames.map(({ kind, body }) => encode(kind === 1 ? 2 : kind, body)));
        const points = [...new Set(cuts.map((cut) => cut % (input.length + 1)))].sort((a, b) => a - b);
        const flipper = new KindFlipper();
        const output: Buffer[] = [];
        let start = 0;
        for (const point of [...points, input.length]) {
          output.push(flipper.flip(Buffer.from(input.subarray(start, point))));
          start = point;
        }
        assert.deepEqual(Buffer.concat(output), expected);
      },
    ),
  );
  // A zero-length frame (no kind byte) is passed through.
  const flipper = new KindFlipper();
  assert.deepEqual(
    flipper.flip(Buffer.from([0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 7])),
    Buffer.from([0, 0, 0, 0, 0, 0, 0, 5, 2, 0, 0, 0, 7]),
  );
});
