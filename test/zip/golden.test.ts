import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { dosDateTime, unixSeconds } from '../../src/zip/headers.js';
import { crc32, crc32OfZeros, planZip, type ZipEntryInput } from '../../src/zip/index.js';
import { collect, temporaryDirectory, verifyArchive, writeArchive } from './helpers.js';

/** Little-endian fields, written out one by one, independent of the code under test. */
function fields(...parts: Array<[bits: 8 | 16 | 32, value: number] | string | Buffer>): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      if (typeof part === 'string') return Buffer.from(part, 'utf8');
      if (Buffer.isBuffer(part)) return part;
      const [bits, value] = part;
      const bytes = Buffer.alloc(bits / 8);
      if (bits === 8) bytes.writeUInt8(value);
      else if (bits === 16) bytes.writeUInt16LE(value);
      else bytes.writeUInt32LE(value >>> 0);
      return bytes;
    }),
  );
}

const MTIME = Date.UTC(2024, 0, 2, 3, 4, 6); // 2024-01-02 03:04:06 UTC
const DOS_TIME = (3 << 11) | (4 << 5) | (6 / 2); // 4.4.6: hour, minute, second / 2
const DOS_DATE = ((2024 - 1980) << 9) | (1 << 5) | 2;
const UNIX_SECONDS = 1704164646;

test('DOS date/time and the extended timestamp come from the mtime in UTC, clamped', () => {
  assert.deepEqual(dosDateTime(MTIME), { date: DOS_DATE, time: DOS_TIME });
  assert.deepEqual(dosDateTime(0), { date: (0 << 9) | (1 << 5) | 1, time: 0 }, 'before 1980: 1980-01-01');
  assert.equal(dosDateTime(Date.UTC(2200, 0, 1)).date, (127 << 9) | (12 << 5) | 31, 'after 2107: 2107-12-31');
  assert.equal(unixSeconds(MTIME), UNIX_SECONDS);
  assert.equal(unixSeconds(Date.UTC(2100, 0, 1)), 0x7fffffff, 'the signed 32-bit field is clamped');
  assert.equal(unixSeconds(-1), -1);
});

test('crc32 and crc32OfZeros agree with the reference values', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926, 'the CRC-32 check value');
  assert.equal(crc32(Buffer.from('56789'), crc32(Buffer.from('1234'))), 0xcbf43926, 'continues from initial');
  for (const length of [0, 1, 3, 4096, 1_000_003]) {
    assert.equal(crc32OfZeros(length), crc32(Buffer.alloc(length)), `${length} zeros`);
    assert.equal(crc32OfZeros(length, 0xcbf43926), crc32(Buffer.alloc(length), 0xcbf43926));
  }
});

test('golden bytes: a folder and a small file, every field as APPNOTE 4.3 lays it out', async () => {
  await using tmp = await temporaryDirectory('golden');
  const source = path.join(tmp.dir, 'hi.txt');
  await writeFile(source, 'hi\n');
  await utimes(source, MTIME / 1000, MTIME / 1000);
  const crc = crc32(Buffer.from('hi\n'));
  const entries: ZipEntryInput[] = [
    { name: 'd', directory: true, mtime: new Date(MTIME), mode: 0o755 },
    { name: 'd/hi.txt', source, size: 3, crc32: crc, mtime: MTIME, mode: 0o644 },
  ];
  const plan = planZip(entries);
  const utf8 = 1 << 11;
  const timestamp = (): Buffer => fields([16, 0x5455], [16, 5], [8, 1], [32, UNIX_SECONDS]);
  // biome-ignore format: one line per record
  const expected = fields(
    // 4.3.7 local file header, folder (version 2.0 for folders, 4.4.3.2)
    [32, 0x04034b50], [16, 20], [16, utf8], [16, 0], [16, DOS_TIME], [16, DOS_DATE], [32, 0], [32, 0], [32, 0], [16, 2], [16, 9], 'd/', timestamp(),
    // local file header of the file at offset 41: version 1.0, CRC and sizes known (no descriptor)
    [32, 0x04034b50], [16, 10], [16, utf8], [16, 0], [16, DOS_TIME], [16, DOS_DATE], [32, crc], [32, 3], [32, 3], [16, 8], [16, 9], 'd/hi.txt', timestamp(),
    'hi\n',
    // 4.3.12 central directory at offset 91; made by Unix (3) spec 6.3 (63)
    [32, 0x02014b50], [16, 0x033f], [16, 20], [16, utf8], [16, 0], [16, DOS_TIME], [16, DOS_DATE], [32, 0], [32, 0], [32, 0], [16, 2], [16, 9], [16, 0], [16, 0], [16, 0], [32, ((0o040755 << 16) | 0x10) >>> 0], [32, 0], 'd/', timestamp(),
    [32, 0x02014b50], [16, 0x033f], [16, 10], [16, utf8], [16, 0], [16, DOS_TIME], [16, DOS_DATE], [32, crc], [32, 3], [32, 3], [16, 8], [16, 9], [16, 0], [16, 0], [16, 0], [32, (0o100644 << 16) >>> 0], [32, 41], 'd/hi.txt', timestamp(),
    // 4.3.16 end of central directory: 2 entries, 120 bytes at 91, no comment
    [32, 0x06054b50], [16, 0], [16, 0], [16, 2], [16, 2], [32, 120], [32, 91], [16, 0],
  );
  assert.equal(plan.size, expected.length);
  const bytes = await collect(plan);
  assert.equal(bytes.toString('hex'), expected.toString('hex'));
  assert.ok(plan.rangeable);
  assert.match(plan.etag, /^"sz-[A-Za-z0-9_-]{32}"$/);
  const file = path.join(tmp.dir, 'golden.zip');
  await writeArchive(plan, file);
  await verifyArchive(file, entries);
});

test('golden bytes: a comment and an empty file (no data piece)', async () => {
  await using tmp = await temporaryDirectory('golden-empty');
  const source = path.join(tmp.dir, 'empty');
  await writeFile(source, '');
  await utimes(source, MTIME / 1000, MTIME / 1000);
  const entries: ZipEntryInput[] = [{ name: 'é', source, size: 0, crc32: 0, mtime: MTIME }];
  const plan = planZip(entries, { comment: 'ünïcode' });
  const name = Buffer.from('é');
  // biome-ignore format: one line per record
  const expected = fields(
    [32, 0x04034b50], [16, 10], [16, 1 << 11], [16, 0], [16, DOS_TIME], [16, DOS_DATE], [32, 0], [32, 0], [32, 0], [16, name.length], [16, 9], name,
    fields([16, 0x5455], [16, 5], [8, 1], [32, UNIX_SECONDS]),
    [32, 0x02014b50], [16, 0x033f], [16, 10], [16, 1 << 11], [16, 0], [16, DOS_TIME], [16, DOS_DATE], [32, 0], [32, 0], [32, 0], [16, name.length], [16, 9], [16, 0], [16, 0], [16, 0], [32, (0o100644 << 16) >>> 0], [32, 0], name,
    fields([16, 0x5455], [16, 5], [8, 1], [32, UNIX_SECONDS]),
    [32, 0x06054b50], [16, 0], [16, 0], [16, 1], [16, 1], [32, 46 + name.length + 9], [32, 30 + name.length + 9], [16, Buffer.byteLength('ünïcode')], 'ünïcode',
  );
  assert.equal((await collect(plan)).toString('hex'), expected.toString('hex'));
  const file = path.join(tmp.dir, 'empty.zip');
  await writeArchive(plan, file);
  await verifyArchive(file, entries, { comment: 'ünïcode' });
});
