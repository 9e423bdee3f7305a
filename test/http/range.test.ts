import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { coalesce, contentRange, MAX_RANGES, parseRange } from '../../src/http/range.js';

test('single ranges: first-last, open-ended, suffix, clamped to the size', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), { kind: 'partial', range: { start: 0, end: 99 } });
  assert.deepEqual(parseRange('bytes=500-', 1000), { kind: 'partial', range: { start: 500, end: 999 } });
  assert.deepEqual(parseRange('bytes=-100', 1000), { kind: 'partial', range: { start: 900, end: 999 } });
  assert.deepEqual(parseRange('bytes=-5000', 1000), { kind: 'partial', range: { start: 0, end: 999 } });
  assert.deepEqual(parseRange('bytes=990-5000', 1000), { kind: 'partial', range: { start: 990, end: 999 } });
  assert.deepEqual(parseRange('Bytes = 1-1', 10), { kind: 'partial', range: { start: 1, end: 1 } });
});

test('unsatisfiable: every range starts past the end, or a zero suffix', () => {
  assert.deepEqual(parseRange('bytes=1000-', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=1000-2000, 3000-', 1000), { kind: 'unsatisfiable' });
  assert.deepEqual(parseRange('bytes=-0', 1000), { kind: 'unsatisfiable' });
  assert.equal(contentRange(undefined, 1000), 'bytes */1000');
  assert.equal(contentRange({ start: 0, end: 9 }, 1000), 'bytes 0-9/1000');
});

test('malformed headers are ignored (full response)', () => {
  for (const header of [
    '',
    'bytes',
    'bytes=',
    'bytes=abc',
    'bytes=5-1',
    'bytes=1-2-3',
    'bytes=--1',
    'bytes=-',
    'items=0-1',
    'bytes=0x10-20',
    'bytes=+1-2',
    'bytes=1.5-2',
    'bytes=0-1'.padEnd(5000, ' '),
    `bytes=${Array.from({ length: MAX_RANGES + 1 }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',')}`,
  ]) {
    assert.equal(parseRange(header, 1000).kind, 'full', header.slice(0, 40));
  }
});

test('several ranges coalesce to one 206 when they touch, else a documented full 200', () => {
  assert.deepEqual(parseRange('bytes=0-9,10-19', 100), { kind: 'partial', range: { start: 0, end: 19 } });
  assert.deepEqual(parseRange('bytes=50-60, 0-55', 100), { kind: 'partial', range: { start: 0, end: 60 } });
  assert.deepEqual(parseRange('bytes=0-9,,20-29', 100), { kind: 'full', reason: 'multiple' });
  assert.deepEqual(parseRange('bytes=0-1,200-300', 100), { kind: 'partial', range: { start: 0, end: 1 } });
  assert.deepEqual(
    coalesce([
      { start: 5, end: 6 },
      { start: 0, end: 1 },
      { start: 2, end: 4 },
    ]),
    [{ start: 0, end: 6 }],
  );
});

test('a zero-length representation ignores Range', () => {
  assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'full', reason: 'empty' });
  assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'full', reason: 'empty' });
});

test('property: never throws; a partial range always lies inside the representation', () => {
  const spec = fc.oneof(
    fc.tuple(fc.nat(2000), fc.option(fc.nat(2000))).map(([a, b]) => `${a}-${b ?? ''}`),
    fc.nat(2000).map((n) => `-${n}`),
    fc.string({ maxLength: 8 }),
  );
  fc.assert(
    fc.property(fc.array(spec, { maxLength: 5 }), fc.nat(1500), (specs, size) => {
      const result = parseRange(`bytes=${specs.join(',')}`, size);
      if (result.kind === 'partial') {
        assert.ok(
          result.range.start >= 0 && result.range.start <= result.range.end && result.range.end < size,
        );
      }
    }),
    { numRuns: 2000 },
  );
});
