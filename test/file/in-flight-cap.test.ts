import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InFlightCap } from '../../src/file/sources/in-flight-cap.js';

test('starts at readAhead and never leaves [1, readAhead]', () => {
  const cap = new InFlightCap(4);
  assert.equal(cap.value, 4);
  for (let i = 0; i < 10; i++) cap.onWindowTaken(true);
  assert.equal(cap.value, 1);
  for (let i = 0; i < 10; i++) cap.onWindowTaken(false);
  assert.equal(cap.value, 4);
});

test('a consumer whose windows are ready lowers the cap one step per window', () => {
  const cap = new InFlightCap(4);
  const seen: number[] = [];
  for (let i = 0; i < 4; i++) {
    cap.onWindowTaken(true);
    seen.push(cap.value);
  }
  assert.deepEqual(seen, [3, 2, 1, 1]);
});

test('a consumer that waits raises it one step per window', () => {
  const cap = new InFlightCap(3);
  cap.onWindowTaken(true);
  cap.onWindowTaken(true);
  assert.equal(cap.value, 1);
  cap.onWindowTaken(false);
  assert.equal(cap.value, 2);
  cap.onWindowTaken(true);
  assert.equal(cap.value, 1);
});

test('readAhead 0 or 1 keeps one read in flight', () => {
  for (const readAhead of [0, 1]) {
    const cap = new InFlightCap(readAhead);
    cap.onWindowTaken(false);
    assert.equal(cap.value, 1);
    cap.onWindowTaken(true);
    assert.equal(cap.value, 1);
  }
});
