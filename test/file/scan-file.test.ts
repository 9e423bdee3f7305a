/**
 * scanFile: one file visited in parts on worker threads (more parts than threads for a large file,
 * dealt as the threads come free). The parts must cover the file exactly
 * once (each visit seeing [from, end), whole in `contents` when it fits, else in windows), results
 * must arrive in part order, an overlap must let a search count a match across a boundary once,
 * and bad input, a missing file, a visitor's error and an abort must each reject with their code
 * and leave no thread or descriptor behind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { type ScanFilePart, scanFile } from '../../src/file/index.js';
import { MIN_PART_BYTES, PART_BYTES } from '../../src/file/scan-file.js';
import { openFds, patternBytes, tempDir, writeFile } from '../helpers/files.js';

const visitors = new URL('../helpers/scan-visitors.js', import.meta.url);
const sha1 = (bytes: Uint8Array): string => createHash('sha1').update(bytes).digest('hex');

let dir: string;
let cleanup: () => void;
before(() => {
  ({ dir, cleanup } = tempDir('sluice-scan-file-'));
});
after(() => cleanup());

interface PartSeen {
  part: ScanFilePart;
  sha1: string;
  bytes: number;
  whole: boolean;
  size: number;
}

test('the parts cover the file once, each visit seeing [from, end), results in part order', async () => {
  const fdsBefore = openFds();
  const cases = [
    { size: 0, workers: 2, overlap: 0 },
    { size: 1000, workers: 4, overlap: 9 },
    { size: 3 * MIN_PART_BYTES, workers: 3, overlap: 0 }, // parts of exactly 4 MiB: in contents
    { size: 2 * MIN_PART_BYTES + 4 * 1024 * 1024 + 17, workers: 2, overlap: 100 }, // over 4 MiB: windows
    { size: 4 * MIN_PART_BYTES + 5, workers: 4, overlap: 1 },
    // more parts than threads: dealt as the threads come free, still in part order
    { size: 3 * PART_BYTES - 12_345, workers: 2, overlap: 7 },
    { size: 2 * PART_BYTES, workers: 1, overlap: 3 },
  ];
  for (const { size, workers, overlap } of cases) {
    const bytes = patternBytes(size, size % 251);
    const file = writeFile(dir, `f-${size}.bin`, bytes);
    const seen: PartSeen[] = [];
    const summary = await scanFile(
      file,
      { module: visitors, export: 'partDigest', onResult: (result) => void seen.push(result as PartSeen) },
      { workers, overlap },
    );
    const threads = Math.max(1, Math.min(workers, Math.floor(size / MIN_PART_BYTES)));
    const parts = Math.max(threads, Math.round(size / PART_BYTES));
    assert.deepEqual(summary, { size, parts });
    assert.equal(seen.length, parts);
    let covered = 0;
    seen.forEach(({ part, sha1: digest, bytes: length, whole, size: fileSize }, index) => {
      assert.equal(part.index, index, 'in part order');
      assert.equal(part.count, parts);
      assert.equal(part.start, covered, 'no gap, no overlap of own bytes');
      assert.equal(part.from, Math.max(0, part.start - overlap));
      assert.equal(digest, sha1(bytes.subarray(part.from, part.end)), `part ${index} of ${size}: its bytes`);
      assert.equal(length, part.end - part.from);
      assert.equal(whole, part.end - part.from <= 4 * 1024 * 1024);
      assert.equal(fileSize, size);
      covered = part.end;
    });
    assert.equal(covered, size, 'to the end of the file');
  }
  assert.equal(openFds(), fdsBefore, 'every file closed, every thread gone');
});

test('with an overlap of the needle length less one, a match across a part boundary is counted once', async () => {
  const needle = 'sluice-needle';
  const size = 4 * MIN_PART_BYTES;
  // every offset across a boundary (0: starting right at it), three per file (one per boundary),
  // plus matches at the file's edges and inside a part
  const shifts = Array.from({ length: needle.length }, (_, shift) => shift);
  for (let first = 0; first < shifts.length; first += 3) {
    const bytes = Buffer.alloc(size, 0x2e);
    const places = [0, size - needle.length, MIN_PART_BYTES + 12_345];
    for (const [index, shift] of shifts.slice(first, first + 3).entries()) {
      places.push((index + 1) * MIN_PART_BYTES - shift);
    }
    for (const at of places) bytes.write(needle, at, 'latin1');
    const file = writeFile(dir, `needles-${first}.bin`, bytes);
    const count = async (overlap: number): Promise<number> => {
      let found = 0;
      await scanFile(
        file,
        {
          module: visitors,
          export: 'countNeedle',
          data: needle,
          onResult: (result) => {
            found += result as number;
          },
        },
        { workers: 4, overlap },
      );
      return found;
    };
    assert.equal(await count(needle.length - 1), places.length, `shifts ${shifts.slice(first, first + 3)}`);
    assert.equal(await count(needle.length + 500), places.length, 'a larger overlap counts the same');
    if (first > 0)
      assert.ok((await count(0)) < places.length, 'no overlap: matches across boundaries are missed');
  }
});

test('scanFile refuses bad arguments, reports missing files and folders, and rejects with the visitor error', async () => {
  const fdsBefore = openFds();
  const file = writeFile(dir, 'small.bin', patternBytes(5000, 3));
  const visitor = { module: visitors, export: 'partDigest' };
  const invalid = { code: 'SLUICE_ERR_INVALID_ARGUMENT' };
  await assert.rejects(scanFile('', visitor), invalid);
  await assert.rejects(scanFile(file, (() => {}) as never), invalid);
  await assert.rejects(scanFile(file, { module: 'relative/visitor.js' }), invalid);
  await assert.rejects(scanFile(file, visitor, { workers: 0 }), invalid);
  await assert.rejects(scanFile(file, visitor, { workers: 1.5 }), invalid);
  await assert.rejects(scanFile(file, visitor, { overlap: -1 }), invalid);
  await assert.rejects(scanFile(file, visitor, { signal: 'no' as never }), invalid);
  await assert.rejects(scanFile(file, { module: visitors, export: 'notAFunction' }), invalid);
  await assert.rejects(scanFile(path.join(dir, 'missing.bin'), visitor), {
    code: 'SLUICE_ERR_FILE_NOT_FOUND',
  });
  const folder = path.join(dir, 'folder');
  mkdirSync(folder);
  await assert.rejects(scanFile(folder, visitor), { code: 'SLUICE_ERR_NOT_A_FILE' });
  await assert.rejects(
    scanFile(file, { module: visitors, export: 'throwAt', data: 'small.bin' }),
    (error) => {
      assert.ok(error instanceof RangeError);
      assert.equal((error as { code?: unknown }).code, 'E_BOOM');
      return true;
    },
  );
  assert.equal(openFds(), fdsBefore, 'every file closed, every thread gone');
});

test('an abort rejects with SLUICE_ERR_ABORTED, before or while the parts are visited', async () => {
  const fdsBefore = openFds();
  const file = writeFile(dir, 'abort.bin', patternBytes(5 * MIN_PART_BYTES, 4)); // parts over 4 MiB: windows
  const visitor = { module: visitors, export: 'digestLater' };
  await assert.rejects(scanFile(file, visitor, { signal: AbortSignal.abort() }), {
    code: 'SLUICE_ERR_ABORTED',
  });
  const controller = new AbortController();
  const running = scanFile(file, visitor, { workers: 3, signal: controller.signal });
  setTimeout(() => controller.abort(), 5);
  await assert.rejects(running, { code: 'SLUICE_ERR_ABORTED' });
  assert.equal(openFds(), fdsBefore, 'every file closed, every thread gone');
});

test('an abort stops a part within a window: a 64 GiB sparse file is not read to its end', async () => {
  const fdsBefore = openFds();
  const file = writeFile(dir, 'sparse.bin', Buffer.alloc(0));
  truncateSync(file, 64 * 1024 ** 3); // ~10 s of reading zeros here, were it read whole
  const controller = new AbortController();
  const started = performance.now();
  const running = scanFile(
    file,
    { module: visitors, export: 'digest' },
    { workers: 1, signal: controller.signal },
  );
  setTimeout(() => controller.abort(), 100);
  await assert.rejects(running, { code: 'SLUICE_ERR_ABORTED' });
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 5000, `settled ${elapsed.toFixed(0)} ms after the start, not after reading 64 GiB`);
  assert.equal(openFds(), fdsBefore, "the part's file closed, its thread gone");
});
