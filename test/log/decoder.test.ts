import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type DecodedRecord, RecordDecoder } from '../../src/log/decoder.js';
import { encodeRecord, SEGMENT_HEADER_BYTES } from '../../src/log/format.js';

const MAX_PAYLOAD = 4096;

/** Segment body bytes (after the header) for `payloads`, LSNs from `firstLsn`. */
function body(payloads: readonly Uint8Array[], firstLsn = 1): Buffer {
  return Buffer.concat(payloads.map((payload, index) => encodeRecord(firstLsn + index, payload)));
}

function decode(
  bytes: Uint8Array,
  cuts: readonly number[] = [],
  fileSize = SEGMENT_HEADER_BYTES + bytes.length,
): { records: DecodedRecord[]; decoder: RecordDecoder } {
  const decoder = new RecordDecoder({
    offset: SEGMENT_HEADER_BYTES,
    expectedLsn: 1,
    fileSize,
    maxPayloadBytes: MAX_PAYLOAD,
  });
  const records: DecodedRecord[] = [];
  const points = [...new Set(cuts.map((cut) => Math.min(cut, bytes.length)))].sort((a, b) => a - b);
  let start = 0;
  for (const point of [...points, bytes.length]) {
    // a reused window: the decoder must copy what it keeps
    const window = Buffer.from(bytes.subarray(start, point));
    records.push(...decoder.push(window));
    window.fill(0xee);
    start = point;
  }
  decoder.finish();
  return { records, decoder };
}

const payloads = fc.array(fc.uint8Array({ maxLength: 300 }), { minLength: 0, maxLength: 30 });

test('every record comes back, whatever the window boundaries', () => {
  fc.assert(
    fc.property(payloads, fc.array(fc.nat(10_000), { maxLength: 8 }), (input, cuts) => {
      const { records, decoder } = decode(body(input), cuts);
      assert.deepEqual(
        records.map((record) => [record.lsn, Buffer.from(record.payload)]),
        input.map((payload, index) => [index + 1, Buffer.from(payload)]),
      );
      assert.deepEqual(decoder.stop, { kind: 'eof', offset: SEGMENT_HEADER_BYTES + body(input).length });
    }),
  );
});

test('zeros after the records (a preallocated segment) are a clean end', () => {
  const bytes = Buffer.concat([body([Buffer.from('a'), Buffer.from('bc')]), Buffer.alloc(4096)]);
  const { records, decoder } = decode(bytes, [5, 50]);
  assert.equal(records.length, 2);
  assert.deepEqual(decoder.stop, { kind: 'zero', offset: SEGMENT_HEADER_BYTES + 48 });
});

test('fewer than 16 zero bytes at the very end are an end marker, not a partial record', () => {
  const bytes = Buffer.concat([body([Buffer.from('abc')]), Buffer.alloc(8)]);
  const { records, decoder } = decode(bytes);
  assert.equal(records.length, 1);
  assert.deepEqual(decoder.stop, { kind: 'zero', offset: SEGMENT_HEADER_BYTES + 24 });
});

test('a stale record (wrong LSN), a bad length and a partial record are stops, not records', () => {
  const stale = Buffer.concat([body([Buffer.from('one')]), encodeRecord(7, Buffer.from('old'))]);
  assert.match(JSON.stringify(decode(stale).decoder.stop), /LSN 7 where 2 was expected/);
  const long = body([Buffer.from('x')]);
  long.writeUInt32LE(MAX_PAYLOAD + 1, 4);
  assert.match(JSON.stringify(decode(long).decoder.stop), /over the limit/);
  const partial = body([Buffer.from('abcdefgh'), Buffer.from('ijkl')]).subarray(0, 40);
  const { records, decoder } = decode(partial);
  assert.equal(records.length, 1);
  assert.equal(decoder.stop?.kind, 'invalid');
  assert.match(JSON.stringify(decoder.stop), /runs past the end of the segment/);
  const partialHeader = body([Buffer.from('abcdefgh'), Buffer.from('ijkl')]).subarray(0, 24 + 8);
  assert.match(JSON.stringify(decode(partialHeader).decoder.stop), /partial record: 8 bytes/);
});

test('fuzz: truncations and bit flips never yield a wrong record nor throw', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ minLength: 0, maxLength: 200 }), { minLength: 1, maxLength: 20 }),
      fc.nat(),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { maxLength: 4 }),
      fc.array(fc.nat(5000), { maxLength: 5 }),
      (input, truncateAt, flips, cuts) => {
        const original = body(input);
        const damaged = Buffer.from(original.subarray(0, truncateAt % (original.length + 1)));
        for (const [position, bit] of flips) {
          if (damaged.length > 0) damaged[position % damaged.length]! ^= 1 << bit;
        }
        const { records, decoder } = decode(damaged, cuts);
        for (const record of records) {
          const expected = input[record.lsn - 1];
          assert.ok(expected !== undefined, `LSN ${record.lsn} was never written`);
          assert.deepEqual(Buffer.from(record.payload), Buffer.from(expected));
        }
        assert.deepEqual(
          records.map((record) => record.lsn),
          records.map((_, index) => index + 1),
          'a prefix, in order',
        );
        assert.ok(decoder.stop !== undefined);
      },
    ),
    { numRuns: 500 },
  );
});
