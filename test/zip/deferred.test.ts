import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import { mkdir, open, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { BufferPool } from '../../src/buffers/index.js';
import { terminateIdleCrcWorkers } from '../../src/zip/crc-workers.js';
import {
  CrcCache,
  crc32,
  DeferredCrc,
  planZip,
  type ZipEntryInput,
  type ZipPlan,
  zipDirectory,
} from '../../src/zip/index.js';
import {
  codeOf,
  collect,
  openFdCount,
  openFilesUnder,
  temporaryDirectory,
  verifyArchive,
  writeArchive,
} from './helpers.js';

const OLD = Date.UTC(2020, 3, 4) / 1000; // seconds; long before "now": not racily clean
const MiB = 1024 * 1024;

/** Content that differs at every offset and between files. */
function pattern(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  for (let offset = 0; offset < size; offset++)
    bytes[offset] = (offset * 131 + seed * 29 + (offset >> 9)) & 0xff;
  return bytes;
}

/** A book: files of assorted sizes (empty, tiny, just over the small-data copy, several windows), a folder. */
async function book(root: string): Promise<void> {
  await mkdir(path.join(root, 'CD 2'), { recursive: true });
  const files: Array<[string, number]> = [
    ['01 empty.txt', 0],
    ['02 tiny.txt', 17],
    ['03 just over 16 KiB.mp3', 16 * 1024 + 1],
    ['04 track.mp3', 300_001],
    ['CD 2/05 track.mp3', 3 * MiB + 5],
  ];
  for (const [index, [name, size]] of files.entries()) {
    const file = path.join(root, name);
    await writeFile(file, pattern(size, index));
    await utimes(file, OLD, OLD);
  }
  await utimes(path.join(root, 'CD 2'), OLD, OLD);
}

/**
 * Two sparse 20 MiB files with data at both ends: 40 MiB to checksum, so deferred CRCs go to the
 * CRC threads (32 MiB or more), at the cost of a few KiB of disk.
 */
async function bigBook(root: string, files = 2): Promise<void> {
  await mkdir(root, { recursive: true });
  for (let index = 0; index < files; index++) {
    const file = path.join(root, `big-${index}.mp3`);
    const handle = await open(file, 'w');
    await handle.write(pattern(5000, index), 0, 5000, 0);
    await handle.write(Buffer.from(`end ${index}!!!`), 0, 8, 20 * MiB - 8);
    await handle.close();
    await utimes(file, OLD, OLD);
  }
}

/** Descriptors into `dir` right now (Linux), read synchronously: no I/O completes meanwhile. */
function filesOpenUnder(dir: string): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // the readdir's own descriptor, closed meanwhile
    }
  });
}

function deferredOf(entries: readonly ZipEntryInput[]): DeferredCrc[] {
  return entries.flatMap((entry) => (entry.crc32 instanceof DeferredCrc ? [entry.crc32] : []));
}

test('deferred CRCs: the plan is made from the listing alone, the bytes equal the eager archive', async () => {
  for (const workers of [0, undefined]) {
    await using tmp = await temporaryDirectory('deferred-same');
    const root = path.join(tmp.dir, 'Book');
    await book(root);
    if (workers === undefined) await bigBook(path.join(root, 'big'));
    const eager = planZip(await zipDirectory(root, { crcCache: false, prefix: 'Book' }));
    const entries = await zipDirectory(root, {
      crcCache: false,
      prefix: 'Book',
      deferCrcs: true,
      ...(workers === undefined ? {} : { workers }),
    });
    assert.ok(
      deferredOf(entries).every((deferred) => deferred.value === undefined),
      'no CRC computed by the listing',
    );
    const plan = planZip(entries);
    assert.equal(plan.rangeable, true);
    assert.equal(plan.size, eager.size);
    assert.match(plan.etag, /^"sz-/, 'a strong ETag before any CRC is known');
    const expected = await collect(eager);
    assert.ok((await collect(plan)).equals(expected), `the same bytes (workers: ${workers})`);
    assert.ok(deferredOf(entries).every((deferred) => deferred.value !== undefined));
    const file = path.join(tmp.dir, 'book.zip');
    assert.equal(await writeArchive(plan, file), plan.size);
    await verifyArchive(file, entries);
    assert.deepEqual(await openFilesUnder(tmp.dir), [], 'no file left open');
  }
});

test('property: any range of a deferred plan (its CRCs computed on demand) equals the eager slice', async () => {
  await using tmp = await temporaryDirectory('deferred-ranges');
  await book(tmp.dir);
  const whole = await collect(planZip(await zipDirectory(tmp.dir, { crcCache: false })));
  const pool = new BufferPool({ slabSize: 8192, maxSlabs: 2, name: 'deferred-ranges' });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 }),
      fc.boolean(),
      async (ranges, reuse) => {
        // a fresh plan per range (every CRC unknown when the range starts), or one plan for all
        let plan: ZipPlan | undefined;
        for (const [index, [a, b]] of ranges.entries()) {
          if (plan === undefined || !reuse) {
            plan = planZip(await zipDirectory(tmp.dir, { crcCache: false, deferCrcs: true, workers: 0 }));
          }
          const start = a % plan.size;
          const end = start + (b % (plan.size - start));
          const options = index % 2 === 0 ? { start, end } : { start, end, pool };
          const slice = await collect(plan, options);
          assert.ok(slice.equals(whole.subarray(start, end + 1)), `range ${start}-${end} of ${plan.size}`);
        }
        assert.equal(pool.stats().inUse, 0);
      },
    ),
    { numRuns: 40 },
  );
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});

test('a range in the central directory computes every CRC it needs (on the CRC threads) and nothing else is sent', async () => {
  await using tmp = await temporaryDirectory('deferred-directory');
  await bigBook(tmp.dir, 3);
  const eager = await collect(planZip(await zipDirectory(tmp.dir, { crcCache: false })));
  const entries = await zipDirectory(tmp.dir, { crcCache: false, deferCrcs: true });
  const plan = planZip(entries);
  const start = plan.size - 200; // in the first central header (3 x 64 bytes + the 22-byte end record)
  assert.ok((await collect(plan, { start })).equals(eager.subarray(start)));
  assert.ok(deferredOf(entries).every((deferred) => deferred.value !== undefined));
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});

test('cold and warm plans of the same files have the same ETag and bytes; a changed file changes the ETag', async () => {
  await using tmp = await temporaryDirectory('deferred-etag');
  const root = path.join(tmp.dir, 'book');
  await book(root);
  const cacheFile = path.join(tmp.dir, 'crc.txt');
  const cold = await CrcCache.open(cacheFile);
  const coldEntries = await zipDirectory(root, { crcCache: cold, deferCrcs: true });
  const coldPlan = planZip(coldEntries);
  const coldBytes = await collect(coldPlan);
  assert.equal(cold.stats().writes, 5, 'every CRC the stream computed was stored');
  await cold.close();
  const warm = await CrcCache.open(cacheFile);
  const warmEntries = await zipDirectory(root, { crcCache: warm, deferCrcs: true });
  assert.ok(
    deferredOf(warmEntries).every((deferred) => deferred.value !== undefined),
    'all from the cache',
  );
  const warmPlan = planZip(warmEntries);
  assert.equal(warmPlan.etag, coldPlan.etag, 'If-Range of a resume across the two still matches');
  assert.ok((await collect(warmPlan)).equals(coldBytes));
  assert.ok(coldBytes.equals(await collect(planZip(await zipDirectory(root, { crcCache: false })))));
  await warm.close();
  const file = path.join(root, '02 tiny.txt');
  const { mtimeMs } = await stat(file);
  await utimes(file, OLD, (mtimeMs + 1) / 1000);
  const changed = planZip(await zipDirectory(root, { crcCache: false, deferCrcs: true }));
  assert.notEqual(changed.etag, coldPlan.etag, 'another mtime: another version, another ETag');
});

test('a file changed after planning fails the stream with SLUICE_ERR_ZIP_SOURCE_CHANGED, never with wrong bytes', async () => {
  await using tmp = await temporaryDirectory('deferred-changed');
  await book(tmp.dir);
  const target = path.join(tmp.dir, '04 track.mp3');
  const original = await readFile(target);
  const restore = async (): Promise<void> => {
    await writeFile(target, original);
    await utimes(target, OLD, OLD);
  };
  const plan = async (): Promise<ZipPlan> =>
    planZip(await zipDirectory(tmp.dir, { crcCache: false, deferCrcs: true, workers: 0 }));

  // changed before its CRC is computed: the CRC read sees another version
  let planned = await plan();
  const modified = Buffer.from(original);
  modified[100] = modified[100]! ^ 0xff;
  await writeFile(target, modified); // same size, new content and mtime
  await assert.rejects(collect(planned), codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'), 'before the CRC');
  await restore();

  // changed after its CRC was computed, before the stream reads it: the check at open
  planned = await plan();
  const whole = await collect(planned); // computes every CRC
  await writeFile(target, modified);
  await assert.rejects(collect(planned), codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'), 'after the CRC');
  await restore();
  assert.ok((await collect(planned)).equals(whole), 'restored (same version again): streams again');

  // replaced by another file (a rename over it) with the same size and mtime: another inode
  const replacement = `${target}.new`;
  await writeFile(replacement, original);
  await utimes(replacement, OLD, OLD);
  const { rename } = await import('node:fs/promises');
  await rename(replacement, target);
  await assert.rejects(collect(planned), codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'), 'replaced');
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});

test('a file changed while it streams fails the stream before its end', async () => {
  await using tmp = await temporaryDirectory('deferred-changed-midway');
  await book(tmp.dir);
  const target = path.join(tmp.dir, 'CD 2', '05 track.mp3');
  const planned = planZip(await zipDirectory(tmp.dir, { crcCache: false, deferCrcs: true, workers: 0 }));
  const pool = new BufferPool({ slabSize: 64 * 1024, maxSlabs: 2, name: 'midway' });
  let touched = false;
  let sent = 0;
  await assert.rejects(async () => {
    for await (const chunk of planned.stream({ pool })) {
      sent += chunk.length;
      if (!touched && chunk.length === pool.slabSize) {
        const bytes = await readFile(target);
        if (bytes.subarray(0, chunk.length).equals(chunk)) {
          // the first window of the last file is out: the file is written to now
          await utimes(target, OLD + 60, OLD + 60);
          touched = true;
        }
      }
    }
  }, codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'));
  assert.ok(touched);
  assert.ok(sent < planned.size, 'the central directory was never sent');
  assert.equal(pool.stats().inUse, 0);
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});

test('a racily clean file (same size and mtime after a rewrite) is caught by the CRC of the bytes streamed', async () => {
  await using tmp = await temporaryDirectory('deferred-racy');
  const root = path.join(tmp.dir, 'book');
  await mkdir(root);
  const file = path.join(root, 'fresh.mp3');
  const first = pattern(200_000, 1);
  await writeFile(file, first);
  // whole seconds, so utimes can set the very same mtime (in ns) again; close to now: racily clean
  const now = Math.floor(Date.now() / 1000);
  await utimes(file, now, now);
  const cache = await CrcCache.open(path.join(tmp.dir, 'crc.txt'));
  const entries = await zipDirectory(root, { crcCache: cache, deferCrcs: true, workers: 0 });
  const deferred = deferredOf(entries).find((candidate) => candidate.source === file)!;
  assert.equal(await deferred.get(), crc32(first));
  assert.equal(deferred.verify, true, 'modified within 2 s of the read');
  assert.equal(cache.stats().writes, 0, 'and so not cached');
  const plan = planZip(entries);
  const second = pattern(200_000, 2);
  await writeFile(file, second);
  await utimes(file, now, now);
  const before = await stat(file, { bigint: true });
  assert.equal(before.mtimeNs, deferred.version.mtimeNs, 'the same version to every stat');
  await assert.rejects(collect(plan), (error: unknown) => {
    assert.equal((error as { code?: string }).code, 'SLUICE_ERR_ZIP_SOURCE_CHANGED');
    assert.match((error as Error).message, /CRC-32/);
    return true;
  });
  await cache.close();
});

test('an early return or an abort with CRC computations running closes every file and thread job at once', async () => {
  for (const workers of [undefined, 0]) {
    await using tmp = await temporaryDirectory('deferred-return');
    await bigBook(tmp.dir, 4);
    const pool = new BufferPool({ slabSize: 64 * 1024, maxSlabs: 4, name: 'deferred-return' });
    const options = {
      crcCache: false as const,
      deferCrcs: true,
      ...(workers === undefined ? {} : { workers }),
    };
    // the CRC threads started (each has descriptors of its own for as long as it lives)
    await collect(planZip(await zipDirectory(tmp.dir, options)));
    const before = await openFdCount();
    // early return after the first chunk: the next files' CRCs are being computed meanwhile
    let plan = planZip(await zipDirectory(tmp.dir, options));
    for await (const chunk of plan.stream({ pool })) {
      assert.ok(chunk.length > 0);
      break;
    }
    assert.deepEqual(filesOpenUnder(tmp.dir), [], `return: no file open (workers: ${workers})`);
    assert.equal(await openFdCount(), before, 'no descriptor leaked');
    assert.equal(pool.stats().inUse, 0, 'every window back');
    // abort in the middle
    plan = planZip(await zipDirectory(tmp.dir, options));
    const controller = new AbortController();
    let chunks = 0;
    await assert.rejects(async () => {
      for await (const _chunk of plan.stream({ pool, signal: controller.signal })) {
        if (++chunks === 3) controller.abort(new Error('client went away'));
      }
    }, codeOf('SLUICE_ERR_ABORTED'));
    assert.deepEqual(filesOpenUnder(tmp.dir), [], `abort: no file open (workers: ${workers})`);
    assert.equal(await openFdCount(), before, 'no descriptor leaked');
    assert.equal(pool.stats().inUse, 0);
    // a range in the central directory, given up on while every CRC is being computed
    plan = planZip(await zipDirectory(tmp.dir, options));
    const iterator = plan.stream({ start: plan.size - 100 })[Symbol.asyncIterator]();
    const pending = iterator.next();
    await new Promise((resolve) => setTimeout(resolve, 1));
    await iterator.return?.();
    await pending.catch(() => {});
    assert.deepEqual(filesOpenUnder(tmp.dir), [], `range: no file open (workers: ${workers})`);
    assert.equal(await openFdCount(), before, 'no descriptor leaked');
  }
  await terminateIdleCrcWorkers();
});

test('two streams of one plan share each CRC computation; one giving up does not fail the other', async () => {
  await using tmp = await temporaryDirectory('deferred-shared');
  await bigBook(tmp.dir, 2);
  const cache = await CrcCache.open(path.join(tmp.dir, 'crc.txt'));
  const plan = planZip(await zipDirectory(tmp.dir, { crcCache: cache, deferCrcs: true }));
  const expected = await collect(planZip(await zipDirectory(tmp.dir, { crcCache: false })));
  const quitter = (async () => {
    for await (const _chunk of plan.stream()) break;
  })();
  const [whole] = await Promise.all([collect(plan), quitter]);
  assert.ok(whole.equals(expected));
  assert.equal(cache.stats().writes, 2, 'each file checksummed once');
  await cache.close();
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});

test('bad input: deferCrcs not a boolean; an entry whose size is not its DeferredCrc file size', async () => {
  await using tmp = await temporaryDirectory('deferred-bad');
  await book(tmp.dir);
  await assert.rejects(
    zipDirectory(tmp.dir, { crcCache: false, deferCrcs: 'yes' as unknown as boolean }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
  const entries = await zipDirectory(tmp.dir, { crcCache: false, deferCrcs: true });
  const file = entries.find((entry) => entry.crc32 instanceof DeferredCrc && (entry.size ?? 0) > 0)!;
  assert.throws(
    () => planZip([{ ...file, size: (file.size ?? 0) + 1 }]),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
  assert.throws(() => planZip([{ ...file, source: '/elsewhere' }]), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
});

test('CRC threads started ahead and never used do not keep the process alive', async () => {
  const workers = new URL('../../src/zip/crc-workers.js', import.meta.url).href;
  const script = `import(${JSON.stringify(workers)}).then((m) => m.startCrcWorkers(2))`;
  const { execFile } = await import('node:child_process');
  // worker threads are what the addon's threadpool CRC replaces: started only without it
  const env = { ...process.env, SLUICE_NATIVE: '0' };
  const exitCode = await new Promise<number | null>((resolve) => {
    const child = execFile(process.execPath, ['-e', script], { env, timeout: 20_000 }, () => {});
    child.on('exit', (code) => resolve(code));
  });
  assert.equal(exitCode, 0, 'the process ended by itself (killed after 20 s otherwise)');
});
