import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeRecord, framedSize, RECORD_HEADER_BYTES } from '../../src/log/format.js';
import {
  checksumRecordInRing,
  copyIntoRing,
  readRecordLength,
  readRecordLsn,
  ringSpans,
  writeRecordFields,
  zeroRing,
} from '../../src/log/ring.js';

/** A small ring, so records land at every position, header and payload wrapping around the end. */
const CAPACITY = 256;

function newRing(): { ring: Uint8Array; view: DataView } {
  const buffer = new SharedArrayBuffer(CAPACITY);
  return { ring: new Uint8Array(buffer), view: new DataView(buffer) };
}

/** Frames a record in the ring the way the two threads do between them (main: fields, payload; writer: CRC). */
function frameInRing(
  ring: Uint8Array,
  view: DataView,
  position: number,
  lsn: number,
  payload: Uint8Array,
): void {
  writeRecordFields(view, position, payload.length, lsn);
  copyIntoRing(ring, position + RECORD_HEADER_BYTES, payload);
  const padding = framedSize(payload.length) - RECORD_HEADER_BYTES - payload.length;
  if (padding > 0) zeroRing(ring, position + RECORD_HEADER_BYTES + payload.length, padding);
  checksumRecordInRing(ring, view, position, payload.length);
}

function readOut(ring: Uint8Array, position: number, length: number): Buffer {
  return Buffer.concat(ringSpans(ring, position, length));
}

test('a record framed in the ring is byte for byte encodeRecord, at every aligned position, wrapped or not', () => {
  const { ring, view } = newRing();
  const payload = Buffer.from(Array.from({ length: 45 }, (_, index) => (index * 7 + 1) & 0xff));
  // running positions past one lap too: the ring position is the total modulo the capacity
  for (let position = 0; position < 2 * CAPACITY; position += 8) {
    ring.fill(0xee); // stale bytes from an earlier lap must not leak into the record
    const lsn = 1000 + position;
    frameInRing(ring, view, position, lsn, payload);
    assert.deepEqual(
      readOut(ring, position, framedSize(payload.length)),
      encodeRecord(lsn, payload),
      `at running position ${position}`,
    );
    assert.equal(readRecordLength(view, position), payload.length);
    assert.equal(readRecordLsn(view, position), lsn);
  }
});

test('LSNs use all 53 bits: the high word is written and read back', () => {
  const { ring, view } = newRing();
  for (const lsn of [1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
    for (const position of [0, CAPACITY - 8, CAPACITY - 16]) {
      frameInRing(ring, view, position, lsn, Buffer.from('x'));
      assert.equal(readRecordLsn(view, position), lsn, `LSN ${lsn} at ${position}`);
      assert.deepEqual(readOut(ring, position, 24), encodeRecord(lsn, Buffer.from('x')));
    }
  }
});

test('empty and ring-sized payloads frame like encodeRecord', () => {
  const { ring, view } = newRing();
  for (const length of [0, 1, 7, 8, CAPACITY - RECORD_HEADER_BYTES]) {
    const payload = Buffer.alloc(length, 0x5a);
    for (const position of [0, 8, CAPACITY - 8]) {
      frameInRing(ring, view, position, 7, payload);
      assert.deepEqual(readOut(ring, position, framedSize(length)), encodeRecord(7, payload));
    }
  }
});
