import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { open, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { crc32, crc32OfZeros, planZip, type ZipEntryInput } from '../../src/zip/index.js';
import { collect, openFilesUnder, temporaryDirectory, verifyArchive, writeArchive } from './helpers.js';

const run = promisify(execFile);
const MTIME = Date.UTC(2020, 3, 4, 5, 6, 8);
const FOUR_GIB = 2 ** 32;
const END_SIGNATURE = 0x06054b50;
const ZIP64_END_SIGNATURE = 0x06064b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;

async function smallFile(dir: string, name: string, content: string): Promise<ZipEntryInput> {
  const source = path.join(dir, name);
  await writeFile(source, content);
  await utimes(source, MTIME / 1000, MTIME / 1000);
  return { name, source, size: Buffer.byteLength(content), crc32: crc32(Buffer.from(content)), mtime: MTIME };
}

/** The end records, read through a range (no file data streamed). */
async function tail(entries: readonly ZipEntryInput[], length: number): Promise<Buffer> {
  const plan = planZip(entries);
  return collect(plan, { start: plan.size - length });
}

test('ZIP64 end records exactly from 65535 entries on (4.4.1.4), not below', async () => {
  const entry = (index: number): ZipEntryInput => ({ name: `${index}`, directory: true, mtime: MTIME });
  const below = Array.from({ length: 65534 }, (_, index) => entry(index));
  const end = await tail(below, 22 + 20 + 56);
  assert.equal(end.readUInt32LE(end.length - 22), END_SIGNATURE);
  assert.equal(end.readUInt16LE(end.length - 22 + 10), 65534, 'the count fits the 16-bit field');
  assert.notEqual(end.readUInt32LE(0), ZIP64_END_SIGNATURE);
  const at = [...below, entry(65534)];
  const zip64End = await tail(at, 22 + 20 + 56);
  assert.equal(zip64End.readUInt32LE(0), ZIP64_END_SIGNATURE);
  assert.equal(Number(zip64End.readBigUInt64LE(32)), 65535, 'total entries in the ZIP64 record');
  assert.equal(zip64End.readUInt32LE(56), ZIP64_LOCATOR_SIGNATURE);
  assert.equal(zip64End.readUInt16LE(56 + 20 + 10), 0xffff, 'the classic record says "see ZIP64"');
});

test('more than 65535 entries: verified by unzip, 7-Zip and Python', async () => {
  await using tmp = await temporaryDirectory('many');
  // mostly empty files (no data to read), every 100th with a byte: what is tested is the count
  const one = await smallFile(tmp.dir, 'x', 'x');
  const empty = await smallFile(tmp.dir, 'empty', '');
  const entries: ZipEntryInput[] = [{ name: 'many', directory: true, mtime: MTIME }];
  for (let index = 0; index < 70_000; index++) {
    entries.push({ ...(index % 100 === 0 ? one : empty), name: `many/${index}` });
  }
  const plan = planZip(entries);
  const file = path.join(tmp.dir, 'many.zip');
  assert.equal(await writeArchive(plan, file), plan.size);
  await verifyArchive(file, entries);
});

test('sizes from 0xFFFFFFFF on use ZIP64 in the local header with both sizes (4.5.3)', async () => {
  const size = 0xffffffff;
  const plan = planZip([{ name: 'big', source: '/not/read', size, crc32: 0x12345678, mtime: MTIME }]);
  const local = await collect(plan, { start: 0, end: 30 + 3 + 20 + 9 - 1 });
  assert.equal(local.readUInt16LE(4), 45, 'version needed 4.5');
  assert.equal(local.readUInt32LE(18), 0xffffffff, 'compressed size: see ZIP64');
  assert.equal(local.readUInt32LE(22), 0xffffffff, 'uncompressed size: see ZIP64');
  assert.equal(local.readUInt16LE(28), 20 + 9, 'extra: ZIP64 (20) + extended timestamp (9)');
  assert.equal(local.readUInt16LE(33), 0x0001);
  assert.equal(local.readUInt16LE(35), 16);
  assert.equal(Number(local.readBigUInt64LE(37)), size);
  assert.equal(Number(local.readBigUInt64LE(45)), size);
  const justBelow = planZip([{ name: 'big', source: '/not/read', size: size - 1, crc32: 0, mtime: MTIME }]);
  const classic = await collect(justBelow, { start: 0, end: 29 });
  assert.equal(classic.readUInt16LE(4), 10);
  assert.equal(classic.readUInt32LE(22), size - 1);
});

test('a sparse file over 4 GiB and an entry after it: verified by unzip, 7-Zip and Python', async (t) => {
  await using tmp = await temporaryDirectory('zip64');
  // 4 GiB of holes, then real bytes: its CRC is known without reading it (crc32OfZeros)
  const tailBytes = Buffer.from('the end of a very long audiobook\n');
  const source = path.join(tmp.dir, 'huge.bin');
  const handle = await open(source, 'w');
  await handle.truncate(FOUR_GIB);
  await handle.write(tailBytes, 0, tailBytes.length, FOUR_GIB);
  await handle.close();
  await utimes(source, MTIME / 1000, MTIME / 1000);
  const huge: ZipEntryInput = {
    name: 'huge.bin',
    source,
    size: FOUR_GIB + tailBytes.length,
    crc32: crc32(tailBytes, crc32OfZeros(FOUR_GIB)),
    mtime: MTIME,
  };
  const entries = [
    await smallFile(tmp.dir, 'before.txt', 'first\n'),
    huge,
    await smallFile(tmp.dir, 'after.txt', 'last\n'),
  ];
  const plan = planZip(entries);
  assert.ok(plan.size > FOUR_GIB);
  // the entry after the big one has a local header offset past 4 GiB: central ZIP64 offset field
  const centralAndEnd = await collect(plan, { start: plan.size - 400 });
  assert.deepEqual(await openFilesUnder(tmp.dir), [], 'the tail range did not open the 4 GiB file');
  const lastCentral = centralAndEnd.lastIndexOf(Buffer.from('504b0102', 'hex'));
  assert.equal(centralAndEnd.readUInt32LE(lastCentral + 42), 0xffffffff, 'offset: see ZIP64');
  assert.ok(
    centralAndEnd.includes(Buffer.from('504b0606', 'hex')),
    'ZIP64 end record (the directory is past 4 GiB)',
  );
  const file = path.join(tmp.dir, 'huge.zip');
  const started = Date.now();
  // The 4 GiB hole of the source is a hole of the archive: write the archive from two ranges around
  // it (the range property test shows ranges equal the whole stream's slices), after checking that
  // the stream gives zeros right up to the hole's end and the real bytes after it.
  const holeStart = 30 + 'before.txt'.length + 9 + 'first\n'.length + 30 + 'huge.bin'.length + 20 + 9;
  const holeEnd = holeStart + FOUR_GIB; // exclusive: the tail bytes start here
  const edge = await collect(plan, { start: holeEnd - 4096, end: holeEnd + tailBytes.length - 1 });
  assert.ok(edge.subarray(0, 4096).equals(Buffer.alloc(4096)));
  assert.ok(edge.subarray(4096).equals(tailBytes));
  const archive = await open(file, 'w');
  await archive.write(await collect(plan, { start: 0, end: holeStart - 1 }), 0, holeStart, 0);
  const after = await collect(plan, { start: holeEnd });
  await archive.write(after, 0, after.length, holeEnd);
  await archive.close();
  assert.equal((await stat(file)).size, plan.size);
  if (process.env.SLUICE_TEST_ZIP64_FULL === '1') {
    // every reader reads every byte (about a minute on a loaded 2-core machine)
    await verifyArchive(file, entries, { crcOnly: ['huge.bin'] });
  } else {
    // 7-Zip and Python read the 4 GiB entry and check its CRC-32 (computed by formula, independently
    // of the data); Python also compares its last 64 KiB with the source. Info-ZIP's unzip -t takes
    // ~40 s for 4 GiB, so it tests the entries around it (ZIP64 offsets, end records) and lists it.
    await verifyArchive(file, entries, { readers: ['7zz', 'python'], crcOnly: ['huge.bin'] });
    await verifyArchive(file, entries, { readers: ['unzip'], unzipOnly: ['before.txt', 'after.txt'] });
  }
  const listing = await run('unzip', ['-Z', '-l', file]);
  assert.match(listing.stdout, new RegExp(`${FOUR_GIB + tailBytes.length} .* huge\\.bin`));
  t.diagnostic(`4 GiB archive written and verified in ${Date.now() - started} ms`);
});
