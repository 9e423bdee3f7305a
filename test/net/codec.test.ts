import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { readU32 } from '../../src/net/codec.js';
import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, FrameDecoder } from '../../src/net/index.js';

/** Cuts `bytes` at the given offsets (any order, duplicates allowed). */
function cut(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((offset) => offset % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    if (point > start) chunks.push(Buffer.from(bytes.subarray(start, point)));
    start = point;
  }
  return chunks;
}

test('golden bytes: a u32 big-endian length, then the payload', () => {
  assert.equal(encodeFrame(Buffer.from('abc')).toString('hex'), '00000003616263');
  assert.equal(encodeFrame(Buffer.alloc(0)).toString('hex'), '00000000');
  assert.equal(DEFAULT_MAX_FRAME_SIZE, 4 * 1024 * 1024);
  assert.throws(() => encodeFrame(Buffer.alloc(11), 10), { code: 'SLUICE_ERR_FRAME_TOO_LARGE' });
});

test('readU32 reads what Buffer#readUInt32BE reads, at any offset (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 64 }), fc.nat(), (bytes, at) => {
      const buffer = Buffer.from(bytes);
      const offset = at % (buffer.length - 3);
      assert.equal(readU32(buffer, offset), buffer.readUInt32BE(offset));
    }),
  );
  assert.equal(readU32(Buffer.from([0xff, 0xff, 0xff, 0xff]), 0), 0xffff_ffff);
  assert.equal(readU32(Buffer.from([0x80, 0, 0, 1]), 0), 0x8000_0001);
});

test('frames split at any chunk boundaries reassemble exactly (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      (payloads, offsets) => {
        const stream = Buffer.concat(payloads.map((payload) => encodeFrame(payload)));
        const received: Buffer[] = [];
        const decoder = new FrameDecoder((frame) => received.push(Buffer.from(frame)));
        for (const chunk of cut(stream, offsets)) decoder.push(chunk);
        assert.deepEqual(
          received.map((frame) => frame.toString('hex')),
          payloads.map((payload) => Buffer.from(payload).toString('hex')),
        );
        assert.equal(decoder.atBoundary, true);
        assert.equal(decoder.bufferedBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test('a frame inside one chunk is handed out as a view, without a copy', () => {
  const chunk = Buffer.concat([encodeFrame(Buffer.from('one')), encodeFrame(Buffer.from('two'))]);
  const frames: Buffer[] = [];
  new FrameDecoder((frame) => frames.push(frame)).push(chunk);
  assert.equal(frames.length, 2);
  for (const frame of frames) assert.equal(frame.buffer, chunk.buffer);
});

test('an oversized length prefix throws before any of its payload is buffered (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1000 }),
      fc.integer({ min: 1, max: 2 ** 32 - 1 }),
      fc.array(fc.nat(), { maxLength: 5 }),
      (maxFrameSize, declared, offsets) => {
        fc.pre(declared > maxFrameSize);
        const header = Buffer.alloc(4);
        header.writeUInt32BE(declared);
        const stream = Buffer.concat([header, Buffer.alloc(64, 7)]);
        const decoder = new FrameDecoder(() => assert.fail('no frame expected'), { maxFrameSize });
        let thrown: unknown;
        for (const chunk of cut(stream, offsets)) {
          try {
            decoder.push(chunk);
          } catch (error) {
            thrown = error;
          }
          assert.ok(decoder.bufferedBytes <= 4, 'nothing past the prefix is kept');
        }
        assert.equal((thrown as { code?: string }).code, 'SLUICE_ERR_FRAME_TOO_LARGE');
      },
    ),
  );
});

test('a trickled frame holds only the bytes really received', () => {
  const decoder = new FrameDecoder(() => {}, { maxFrameSize: 1 << 20 });
  const header = Buffer.alloc(4);
  header.writeUInt32BE(1 << 20);
  decoder.push(header);
  decoder.push(Buffer.alloc(100));
  assert.equal(decoder.bufferedBytes, 104);
  decoder.stop();
  assert.equal(decoder.bufferedBytes, 4);
});

test('maxFrameSize is validated', () => {
  assert.throws(() => new FrameDecoder(() => {}, { maxFrameSize: 0 }), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
  assert.throws(() => new FrameDecoder(() => {}, { maxFrameSize: 2 ** 32 }), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
});

test('pause() stops mid-chunk and resume() hands out exactly the held frames, in order (property)', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 50 }), { minLength: 1, maxLength: 15 }),
      fc.array(fc.nat(), { maxLength: 10 }),
      fc.integer({ min: 1, max: 4 }),
      (payloads, offsets, every) => {
        const stream = Buffer.concat(payloads.map((payload) => encodeFrame(payload)));
        const received: string[] = [];
        const decoder = new FrameDecoder((frame) => {
          received.push(frame.toString('hex'));
          if (received.length % every === 0) decoder.pause();
        });
        for (const chunk of cut(stream, offsets)) {
          const before = received.length;
          decoder.push(chunk);
          if (decoder.paused) assert.ok(received.length - before <= every);
          while (decoder.paused) decoder.resume();
        }
        assert.deepEqual(
          received,
          payloads.map((payload) => Buffer.from(payload).toString('hex')),
        );
      },
    ),
    { numRuns: 200 },
  );
});
