import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodeSegmentHeader,
  encodeRecord,
  encodeSegmentHeader,
  framedSize,
  parseSegmentName,
  segmentName,
} from '../../src/log/format.js';

test('a record is framed as CRC-32C, length, LSN, payload, zero padding to 8 bytes (golden bytes)', () => {
  const record = encodeRecord(1, Buffer.from('hello'));
  assert.equal(record.length, 24);
  // CRC-32C over 05000000 0100000000000000 "hello", little-endian
  assert.equal(
    record.toString('hex'),
    `${record.subarray(0, 4).toString('hex')}050000000100000000000000${Buffer.from('hello').toString('hex')}000000`,
  );
  // an independent bitwise CRC-32C (Castagnoli, reflected 0x82F63B78) must agree
  let crc = 0xffffffff;
  for (const byte of record.subarray(4, 21)) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  assert.equal(record.readUInt32LE(0), (crc ^ 0xffffffff) >>> 0);
});

test('framedSize pads to 8 bytes', () => {
  assert.deepEqual([0, 1, 7, 8, 9, 256].map(framedSize), [16, 24, 24, 24, 32, 272]);
});

test('segment names sort like their first LSN and parse back', () => {
  assert.equal(segmentName(1), '00000000000000000001.wal');
  assert.equal(parseSegmentName(segmentName(123456789)), 123456789);
  assert.equal(parseSegmentName('next.wal.tmp'), undefined);
  assert.equal(parseSegmentName('00000000000000000000.wal'), undefined);
  assert.equal(parseSegmentName('1.wal'), undefined);
});

test('segment header round-trips and rejects damage', () => {
  const header = { version: 1, maxBatchBytes: 1 << 20, firstLsn: 42, segmentSize: 64 << 20 };
  const bytes = encodeSegmentHeader(header);
  assert.equal(bytes.length, 32);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'SLUICWAL');
  assert.deepEqual(decodeSegmentHeader(bytes), header);
  for (let index = 0; index < 32; index++) {
    const damaged = Buffer.from(bytes);
    damaged[index]! ^= 0x10;
    assert.equal(typeof decodeSegmentHeader(damaged), 'string', `flip in byte ${index} is caught`);
  }
  assert.match(String(decodeSegmentHeader(bytes.subarray(0, 10))), /10 bytes/);
});
