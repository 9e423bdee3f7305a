import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BatchWriter, type BatchWriterOptions } from '../../src/write/index.js';
import { ChaosSink, tempDir, turn } from './helpers.js';

type Op =
  | { kind: 'string'; text: string }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'reserve'; size: number; commit: number; fill: number }
  | { kind: 'flush' }
  | { kind: 'turn' };

const maxSlab = 2048;

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .string({ unit: 'binary', maxLength: 3 * maxSlab })
      .map((text) => ({ kind: 'string' as const, text })),
  },
  {
    weight: 3,
    arbitrary: fc
      .string({ unit: 'binary-ascii', maxLength: 120 })
      .map((text) => ({ kind: 'string' as const, text })),
  },
  {
    weight: 3,
    arbitrary: fc.uint8Array({ maxLength: 3 * maxSlab }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        size: fc.integer({ min: 1, max: 4 * maxSlab }),
        ratio: fc.double({ min: 0, max: 1, noNaN: true }),
        fill: fc.integer({ min: 0, max: 255 }),
      })
      .map(({ size, ratio, fill }) => ({
        kind: 'reserve' as const,
        size,
        commit: Math.floor(size * ratio),
        fill,
      })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'flush' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'turn' as const }) },
);

const optionsArbitrary: fc.Arbitrary<BatchWriterOptions> = fc.record({
  slabSize: fc.integer({ min: 16, max: maxSlab }),
  flushBytes: fc.integer({ min: 1, max: 8 * maxSlab }),
  maxBatchBytes: fc.integer({ min: 1, max: 16 * maxSlab }),
  highWaterMark: fc.integer({ min: 1, max: 16 * maxSlab }),
  // large writes by reference (their own iovec, between copies in the same slab); above 3 slabs: never
  referenceBytes: fc.integer({ min: 1, max: 4 * maxSlab }),
  scheduling: fc.constantFrom('tick' as const, 'immediate' as const),
  // debug: reserved views are separate buffers, copied and detached on commit
  debug: fc.boolean(),
});

/**
 * Runs `ops` against `writer` and returns the bytes they should have produced, in order.
 * Waits on `ready()` whenever `write()`/`commit()` say so, as a well-behaved producer does.
 */
async function drive(writer: BatchWriter, ops: readonly Op[]): Promise<Buffer> {
  const expected: Buffer[] = [];
  for (const op of ops) {
    let ok = true;
    switch (op.kind) {
      case 'string':
        ok = writer.write(op.text);
        expected.push(Buffer.from(op.text));
        break;
      case 'bytes':
        ok = writer.write(op.bytes);
        expected.push(Buffer.from(op.bytes));
        break;
      case 'reserve': {
        const size = Math.min(op.size, writer.slabSize);
        const commit = Math.min(op.commit, size);
        const view = writer.reserve(size);
        assert.equal(view.length, size);
        for (let index = 0; index < size; index++) view[index] = (op.fill + index) & 0xff;
        expected.push(Buffer.from(view.subarray(0, commit))); // before commit: in debug mode it detaches the view
        ok = writer.commit(commit);
        break;
      }
      case 'flush':
        await writer.flush();
        break;
      case 'turn':
        await turn();
        break;
    }
    if (!ok) await writer.ready();
  }
  return Buffer.concat(expected);
}

const options = (generated: BatchWriterOptions): BatchWriterOptions => ({
  ...generated,
  // room for the largest single op above the high-water mark, so a waiting producer never hits the bound
  maxBufferedBytes: (generated.highWaterMark ?? 0) + 16 * maxSlab,
});

for (const strategy of ['sync', 'threadpool'] as const) {
  test(`bytes in the file equal the bytes written, in order (${strategy})`, async (t) => {
    const dir = tempDir(t);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(optionsArbitrary, fc.array(opArbitrary, { maxLength: 60 }), async (generated, ops) => {
        const file = path.join(dir, `run-${run++}.bin`);
        const writer = await BatchWriter.open(file, { ...options(generated), mode: 'truncate', strategy });
        const expected = await drive(writer, ops);
        await writer.close();
        const actual = readFileSync(file);
        assert.equal(actual.length, expected.length);
        assert.ok(actual.equals(expected), 'file content differs from what was written');
        assert.equal(writer.stats.writtenBytes, expected.length);
        assert.equal(writer.stats.bufferedBytes, 0);
      }),
      { numRuns: 40 },
    );
  });
}

for (const kind of ['sync', 'async'] as const) {
  test(`partial writes and EAGAIN keep every byte in order (${kind} sink)`, async () => {
    await fc.assert(
      fc.asyncProperty(
        optionsArbitrary,
        fc.array(opArbitrary, { maxLength: 40 }),
        fc.integer(),
        async (generated, ops, seed) => {
          const chaos = new ChaosSink({ seed, partial: 0.4, eagain: 0.15 });
          const writer = new BatchWriter(kind === 'sync' ? chaos.sync() : chaos.async(), options(generated));
          const expected = await drive(writer, ops);
          await writer.close();
          assert.ok(chaos.bytes.equals(expected), 'the sink did not get the bytes in order');
          assert.ok(chaos.maxChunks <= 1024, 'at most IOV_MAX chunks per call');
          assert.ok(chaos.maxInFlight <= 1, 'at most one write in flight');
          assert.ok(chaos.closed);
          const { writtenBytes, acceptedBytes, droppedBytes } = writer.stats;
          assert.deepEqual(
            [writtenBytes, acceptedBytes, droppedBytes],
            [expected.length, expected.length, 0],
          );
        },
      ),
      { numRuns: 60 },
    );
  });
}
