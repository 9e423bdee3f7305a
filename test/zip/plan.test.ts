import assert from 'node:assert/strict';
import { appendFile, chmod, mkdir, open, readFile, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { crc32, planZip, type ZipEntryInput, zipDirectory } from '../../src/zip/index.js';
import {
  codeOf,
  collect,
  openFilesUnder,
  temporaryDirectory,
  verifyArchive,
  writeArchive,
} from './helpers.js';

const MTIME = Date.UTC(2023, 5, 7, 8, 9, 10);

async function fixture(dir: string, name: string, content: string | Buffer): Promise<ZipEntryInput> {
  const source = path.join(dir, name);
  await writeFile(source, content);
  await utimes(source, MTIME / 1000, MTIME / 1000);
  const bytes = Buffer.from(content);
  return { name, source, size: bytes.length, crc32: crc32(bytes), mtime: MTIME };
}

test('unsafe or malformed names are refused with SLUICE_ERR_ZIP_ENTRY_NAME', () => {
  const bad = ['', '/etc/passwd', 'a/../b', '..', 'a/./b', 'a//b', 'a\\b', 'C:/x', 'nul\0byte', '\ud800'];
  for (const name of bad) {
    assert.throws(
      () => planZip([{ name, source: '/dev/null', size: 0, crc32: 0, mtime: 0 }]),
      codeOf('SLUICE_ERR_ZIP_ENTRY_NAME'),
      JSON.stringify(name),
    );
  }
  assert.throws(
    () => planZip([{ name: '/', directory: true, mtime: 0 }]),
    codeOf('SLUICE_ERR_ZIP_ENTRY_NAME'),
  );
  assert.throws(
    () => planZip([{ name: 'x'.repeat(65536), source: '/dev/null', size: 0, crc32: 0, mtime: 0 }]),
    codeOf('SLUICE_ERR_ZIP_ENTRY_NAME'),
  );
});

test('duplicate names (a file and a folder of the same path too) are refused', () => {
  const file = { source: '/dev/null', size: 0, crc32: 0, mtime: 0 };
  assert.throws(
    () =>
      planZip([
        { name: 'a', ...file },
        { name: 'a', ...file },
      ]),
    codeOf('SLUICE_ERR_ZIP_DUPLICATE_NAME'),
  );
  assert.throws(
    () =>
      planZip([
        { name: 'a/', mtime: 0 },
        { name: 'a', ...file },
      ]),
    codeOf('SLUICE_ERR_ZIP_DUPLICATE_NAME'),
  );
});

test('bad sizes, CRCs, modes, mtimes and comments are refused with SLUICE_ERR_INVALID_ARGUMENT', () => {
  const base = { name: 'a', source: '/dev/null', size: 0, crc32: 0, mtime: 0 };
  for (const change of [
    { size: -1 },
    { size: 1.5 },
    { crc32: 2 ** 32 },
    { crc32: -1 },
    { mode: 0o10000 },
    { mtime: Number.NaN },
    { mtime: new Date('invalid') },
    { source: '' },
  ]) {
    assert.throws(
      () => planZip([{ ...base, ...change }]),
      codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
      JSON.stringify(change),
    );
  }
  assert.throws(() => planZip([], { comment: 'x'.repeat(65536) }), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
});

test('an empty archive is the 22-byte end record, and every tool accepts it', async () => {
  await using tmp = await temporaryDirectory('empty');
  const plan = planZip([]);
  assert.equal(plan.size, 22);
  const bytes = await collect(plan);
  assert.equal(bytes.toString('hex'), `504b0506${'00'.repeat(18)}`);
  const file = path.join(tmp.dir, 'empty.zip');
  await writeArchive(plan, file);
  await verifyArchive(file, []);
});

test('the ETag is deterministic and changes with any name, size, CRC, mtime, mode or comment', () => {
  const entry = { name: 'a', source: '/x', size: 3, crc32: 7, mtime: MTIME, mode: 0o644 };
  const tag = planZip([entry]).etag;
  assert.equal(planZip([{ ...entry }]).etag, tag);
  assert.equal(
    planZip([{ ...entry, source: '/elsewhere' }]).etag,
    tag,
    'where the bytes come from is not part of them',
  );
  for (const change of [{ name: 'b' }, { size: 4 }, { crc32: 8 }, { mtime: MTIME + 1 }, { mode: 0o600 }]) {
    assert.notEqual(planZip([{ ...entry, ...change }]).etag, tag, JSON.stringify(change));
  }
  assert.notEqual(planZip([entry], { comment: 'x' }).etag, tag);
  const streaming = planZip([{ name: 'a', source: '/x', size: 3, mtime: MTIME }]);
  assert.equal(streaming.rangeable, false);
  assert.match(streaming.etag, /^W\/"sz-/, 'a streaming plan only gets a weak ETag');
});

test('streaming plans: data descriptors when the CRC is unknown, sizes taken at open when unknown', async () => {
  await using tmp = await temporaryDirectory('streaming');
  const known = await fixture(tmp.dir, 'known.txt', 'known CRC\n');
  const noCrc = await fixture(tmp.dir, 'no-crc.bin', Buffer.alloc(100_000, 7));
  const noSize = await fixture(tmp.dir, 'no-size.txt', 'size unknown\n');
  const { crc32: _dropped, ...withoutCrc } = noCrc;
  const entries: ZipEntryInput[] = [
    known,
    withoutCrc,
    { name: noSize.name, source: noSize.source!, mtime: MTIME },
  ];
  const sized = planZip(entries.slice(0, 2));
  assert.equal(sized.rangeable, false);
  const sizedBytes = await collect(sized);
  assert.equal(sizedBytes.length, sized.size, 'known sizes: the exact length even with data descriptors');
  assert.throws(() => sized.stream({ start: 1 }), codeOf('SLUICE_ERR_ZIP_NOT_RANGEABLE'));
  const unsized = planZip(entries);
  assert.ok(Number.isNaN(unsized.size));
  const file = path.join(tmp.dir, 'streaming.zip');
  await writeArchive(unsized, file);
  await verifyArchive(file, [entries[0]!, entries[1]!, { ...entries[2]!, size: 13 }]);
  assert.equal(
    (await collect(planZip(entries))).toString('hex'),
    (await collect(unsized)).toString('hex'),
    'deterministic',
  );
});

test('ranges outside the archive are refused with SLUICE_ERR_ZIP_RANGE before any I/O', () => {
  const plan = planZip([{ name: 'a', source: '/does/not/exist', size: 10, crc32: 1, mtime: 0 }]);
  for (const range of [{ start: -1 }, { start: plan.size }, { start: 5, end: 4 }, { end: plan.size }]) {
    assert.throws(() => plan.stream(range), codeOf('SLUICE_ERR_ZIP_RANGE'), JSON.stringify(range));
  }
  assert.throws(() => plan.stream({ start: 1.5 }), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  assert.throws(
    () => plan.stream({ openAhead: 'yes' as unknown as boolean }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
});

test('a file that changed since planning fails the stream with SLUICE_ERR_ZIP_SOURCE_CHANGED', async () => {
  await using tmp = await temporaryDirectory('changed');
  const entry = await fixture(tmp.dir, 'a.txt', 'original\n');
  const plan = planZip([entry]);
  await appendFile(entry.source!, 'more');
  await assert.rejects(collect(plan), codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'), 'grew');
  await writeFile(entry.source!, 'x');
  await assert.rejects(collect(plan), codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'), 'shrank');
  await writeFile(entry.source!, 'original\n');
  await utimes(entry.source!, MTIME / 1000 + 5, MTIME / 1000 + 5);
  await assert.rejects(collect(plan), codeOf('SLUICE_ERR_ZIP_SOURCE_CHANGED'), 'same size, other mtime');
  await utimes(entry.source!, MTIME / 1000, MTIME / 1000);
  assert.equal((await collect(plan)).length, plan.size, 'restored: streams again');
});

test('missing and unreadable files fail with the sluice/file codes', async (t) => {
  await using tmp = await temporaryDirectory('unreadable');
  const missing = planZip([
    { name: 'gone', source: path.join(tmp.dir, 'gone'), size: 1, crc32: 0, mtime: 0 },
  ]);
  await assert.rejects(collect(missing), codeOf('SLUICE_ERR_FILE_NOT_FOUND'));
  const folder = planZip([{ name: 'dir', source: tmp.dir, size: 1, crc32: 0, mtime: 0 }]);
  await assert.rejects(collect(folder), codeOf('SLUICE_ERR_NOT_A_FILE'));
  if (process.getuid?.() === 0) {
    t.diagnostic('running as root: permission checks do not apply');
    return;
  }
  const locked = await fixture(tmp.dir, 'locked', 'secret');
  await chmod(locked.source!, 0);
  await assert.rejects(collect(planZip([locked])), codeOf('SLUICE_ERR_FILE_PERMISSION'));
});

test('zipDirectory: deterministic order, every folder, modes, mtimes, UTF-8 names; verified by three readers', async () => {
  await using tmp = await temporaryDirectory('tree');
  const root = path.join(tmp.dir, 'Audiobook');
  await mkdir(path.join(root, 'CD 2', 'empty'), { recursive: true });
  await mkdir(path.join(root, 'CD 1'), { recursive: true });
  await writeFile(path.join(root, 'CD 1', '01 – Prologue.mp3'), Buffer.alloc(300_000, 1));
  await writeFile(path.join(root, 'CD 1', 'Ünïcödé 😀.txt'), 'names are UTF-8\n');
  await writeFile(path.join(root, 'CD 2', 'empty.txt'), '');
  await writeFile(path.join(root, 'run.sh'), '#!/bin/sh\n');
  await chmod(path.join(root, 'run.sh'), 0o755);
  await symlink(path.join(root, 'run.sh'), path.join(root, 'link-to-file'));
  await symlink(path.join(root, 'CD 1'), path.join(root, 'link-to-folder'));
  const entries = await zipDirectory(root, { crcCache: false });
  assert.deepEqual(
    entries.map((entry) => entry.name),
    [
      'CD 1/',
      'CD 1/01 – Prologue.mp3',
      'CD 1/Ünïcödé 😀.txt',
      'CD 2/',
      'CD 2/empty/',
      'CD 2/empty.txt',
      'link-to-file',
      'run.sh',
    ],
  );
  assert.equal(entries.find((entry) => entry.name === 'run.sh')?.mode, 0o755);
  const prefixed = await zipDirectory(root, { crcCache: false, prefix: 'Audiobook' });
  assert.equal(prefixed[0]?.name, 'Audiobook/');
  assert.ok(prefixed.slice(1).every((entry) => entry.name.startsWith('Audiobook/')));
  const plan = planZip(prefixed);
  const file = path.join(tmp.dir, 'book.zip');
  assert.equal(await writeArchive(plan, file), plan.size);
  await verifyArchive(file, prefixed);
  const again = planZip(await zipDirectory(root, { crcCache: false, prefix: 'Audiobook' }));
  assert.equal(again.etag, plan.etag);
  assert.ok((await collect(again)).equals(await collect(plan)), 'the same tree gives the same bytes');
  await assert.rejects(
    zipDirectory(path.join(tmp.dir, 'nope'), { crcCache: false }),
    codeOf('SLUICE_ERR_FILE_NOT_FOUND'),
  );
  await assert.rejects(zipDirectory(file, { crcCache: false }), codeOf('SLUICE_ERR_NOT_A_FILE'));
});

test("zipDirectory: a folder of more files than are stat'ed at once keeps name order; a dangling link is skipped", async () => {
  await using tmp = await temporaryDirectory('tree-wide');
  // 70 files: three batches of stats; names whose order is not their creation order
  const names = Array.from(
    { length: 70 },
    (_, index) => `track-${String((index * 37) % 70).padStart(2, '0')}.mp3`,
  );
  for (const [index, name] of names.entries())
    await writeFile(path.join(tmp.dir, name), Buffer.alloc(index, index));
  await mkdir(path.join(tmp.dir, 'sub'));
  await writeFile(path.join(tmp.dir, 'sub', 'inner.txt'), 'inner');
  await symlink(path.join(tmp.dir, 'nowhere'), path.join(tmp.dir, 'track-35-dangling.mp3'));
  const entries = await zipDirectory(tmp.dir, { crcCache: false });
  assert.deepEqual(
    entries.map((entry) => entry.name),
    ['sub/', 'sub/inner.txt', ...[...names].sort()],
  );
  for (const [index, name] of names.entries()) {
    const entry = entries.find((candidate) => candidate.name === name)!;
    assert.equal(entry.size, index, name);
    assert.equal(entry.crc32, crc32(Buffer.alloc(index, index)), name);
  }
});

test('zipDirectory: the same entries at any CRC concurrency; abort and bad options are coded errors', async () => {
  await using tmp = await temporaryDirectory('tree-concurrency');
  for (let index = 0; index < 9; index++) {
    await fixture(tmp.dir, `track-${index}.mp3`, Buffer.alloc(70_000 + index, index));
  }
  const one = await zipDirectory(tmp.dir, { crcCache: false, concurrency: 1 });
  assert.deepEqual(await zipDirectory(tmp.dir, { crcCache: false, concurrency: 4 }), one);
  assert.equal(one[8]?.crc32, crc32(Buffer.alloc(70_008, 8)));
  await assert.rejects(
    zipDirectory(tmp.dir, { crcCache: false, signal: AbortSignal.abort() }),
    codeOf('SLUICE_ERR_ABORTED'),
  );
  await assert.rejects(
    zipDirectory(tmp.dir, { crcCache: false, concurrency: 0 }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
});

test('zipDirectory on CRC worker threads (32 MiB or more to checksum): the same CRCs as the main thread', async () => {
  await using tmp = await temporaryDirectory('tree-workers');
  // two sparse 20 MiB files with data at both ends (cheap to make), and small ones
  for (let index = 0; index < 2; index++) {
    const file = path.join(tmp.dir, `big-${index}.bin`);
    const handle = await open(file, 'w');
    await handle.write(Buffer.alloc(5000, index + 1), 0, 5000, 0);
    await handle.write(Buffer.from(`end ${index}!!!`), 0, 8, 20 * 1024 * 1024 - 8);
    await handle.close();
  }
  for (let index = 0; index < 5; index++) {
    await fixture(tmp.dir, `small-${index}.txt`, `small file ${index}\n`.repeat(index * 100));
  }
  const onMainThread = await zipDirectory(tmp.dir, { crcCache: false, workers: 0 });
  const onWorkers = await zipDirectory(tmp.dir, { crcCache: false });
  assert.deepEqual(onWorkers, onMainThread);
  const big = await readFile(path.join(tmp.dir, 'big-1.bin'));
  assert.equal(onWorkers.find((entry) => entry.name === 'big-1.bin')?.crc32, crc32(big));
  assert.deepEqual(
    await zipDirectory(tmp.dir, { crcCache: false, workers: 1, concurrency: 3 }),
    onMainThread,
  );
  const controller = new AbortController();
  const aborted = zipDirectory(tmp.dir, { crcCache: false, signal: controller.signal });
  setImmediate(() => controller.abort(new Error('stop')));
  await assert.rejects(aborted, codeOf('SLUICE_ERR_ABORTED'));
  await assert.rejects(
    zipDirectory(tmp.dir, { crcCache: false, workers: -1 }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
  assert.deepEqual(await openFilesUnder(tmp.dir), [], 'no file left open');
});
