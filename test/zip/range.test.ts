import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BufferPool } from '../../src/buffers/index.js';
import { crc32, planZip, type ZipEntryInput } from '../../src/zip/index.js';
import { collect, openFilesUnder, temporaryDirectory, verifyArchive, writeArchive } from './helpers.js';

const MTIME = Date.UTC(2022, 1, 3, 4, 5, 6);

/** Source files of assorted sizes (0 bytes to a few windows) with distinct content. */
async function sources(dir: string): Promise<Array<{ source: string; size: number; crc32: number }>> {
  const sizes = [0, 1, 17, 4096, 65_537, 300_001];
  return Promise.all(
    sizes.map(async (size, index) => {
      const bytes = Buffer.alloc(size);
      for (let offset = 0; offset < size; offset++) bytes[offset] = (offset * 31 + index * 7) & 0xff;
      const source = path.join(dir, `source-${index}`);
      await writeFile(source, bytes);
      await utimes(source, MTIME / 1000, MTIME / 1000);
      return { source, size, crc32: crc32(bytes) };
    }),
  );
}

const entriesArbitrary = (files: ReadonlyArray<{ source: string; size: number; crc32: number }>) =>
  fc
    .array(
      fc.record({
        name: fc.stringMatching(/^[a-zA-Zéü😀 _-]{1,12}$/u),
        file: fc.option(fc.constantFrom(...files), { nil: undefined }),
        mode: fc.constantFrom(0o644, 0o600, 0o755),
      }),
      { maxLength: 12 },
    )
    .map((drafts) =>
      drafts.map((draft, index): ZipEntryInput => {
        const name = `${index}-${draft.name}`;
        return draft.file === undefined
          ? { name, directory: true, mtime: MTIME, mode: draft.mode }
          : { name, ...draft.file, mtime: MTIME, mode: draft.mode };
      }),
    );

test('property: stream({ start, end }) equals the same slice of the whole archive', async () => {
  await using tmp = await temporaryDirectory('range');
  const files = await sources(tmp.dir);
  const pool = new BufferPool({ slabSize: 8192, maxSlabs: 1, name: 'range-test' });
  await fc.assert(
    fc.asyncProperty(
      entriesArbitrary(files),
      fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
      fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 8 }),
      async (entries, comment, ranges) => {
        const plan = planZip(entries, comment === undefined ? {} : { comment });
        const whole = await collect(plan);
        assert.equal(whole.length, plan.size);
        for (const [index, [a, b]] of ranges.entries()) {
          const start = a % plan.size;
          const end = start + (b % (plan.size - start));
          // a small pooled window: many windows per file, and the pool's bound is respected, with
          // and without the next file opened ahead (which then waits for the pool's one slab)
          const slice = await collect(plan, { start, end, pool, openAhead: index % 2 === 1 });
          assert.ok(slice.equals(whole.subarray(start, end + 1)), `range ${start}-${end} of ${plan.size}`);
        }
        assert.equal(pool.stats().inUse, 0, 'every window went back to the pool');
      },
    ),
    { numRuns: 60 },
  );
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});

test('random plans are valid archives for unzip, 7-Zip and Python', async () => {
  await using tmp = await temporaryDirectory('random-verify');
  const files = await sources(tmp.dir);
  const samples = fc.sample(entriesArbitrary(files), { numRuns: 4, seed: 42 });
  for (const [index, entries] of samples.entries()) {
    const plan = planZip(entries, { comment: `sample ${index}` });
    const file = path.join(tmp.dir, `sample-${index}.zip`);
    await writeArchive(plan, file);
    await verifyArchive(file, entries, { comment: `sample ${index}` });
  }
});
