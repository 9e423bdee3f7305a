import assert from 'node:assert/strict';
import { mkdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { CrcCache, crc32, planZip, zipDirectory } from '../../src/zip/index.js';
import { codeOf, collect, temporaryDirectory } from './helpers.js';

const OLD = Date.UTC(2019, 0, 1) / 1000; // well before "now": not racily clean

async function tree(dir: string): Promise<void> {
  for (const [name, content] of [
    ['a.mp3', 'first track'],
    ['b.mp3', 'second track'],
  ] as const) {
    await writeFile(path.join(dir, name), content);
    await utimes(path.join(dir, name), OLD, OLD);
  }
}

test('CRCs computed once are reused from the cache file by a later process', async () => {
  await using tmp = await temporaryDirectory('cache');
  const root = path.join(tmp.dir, 'book');
  await mkdir(root);
  await tree(root);
  const cacheFile = path.join(tmp.dir, 'cache', 'crc32.txt');
  const cold = await CrcCache.open(cacheFile);
  const entries = await zipDirectory(root, { crcCache: cold });
  assert.equal(entries[0]?.crc32, crc32(Buffer.from('first track')));
  assert.deepEqual({ hits: cold.stats().hits, writes: cold.stats().writes }, { hits: 0, writes: 2 });
  await cold.close();
  const warm = await CrcCache.open(cacheFile);
  assert.equal(warm.stats().entries, 2);
  assert.deepEqual(await zipDirectory(root, { crcCache: warm }), entries);
  assert.deepEqual({ hits: warm.stats().hits, writes: warm.stats().writes }, { hits: 2, writes: 0 });
  await warm.close();
});

test('a stale entry is never used: a changed size or mtime is a different key', async () => {
  await using tmp = await temporaryDirectory('stale');
  const root = path.join(tmp.dir, 'book');
  await mkdir(root);
  await tree(root);
  const cache = await CrcCache.open(path.join(tmp.dir, 'crc.txt'));
  await zipDirectory(root, { crcCache: cache });
  // same size, different content, mtime moved: the CRC must be recomputed
  await writeFile(path.join(root, 'a.mp3'), 'FIRST TRACK');
  await utimes(path.join(root, 'a.mp3'), OLD + 60, OLD + 60);
  const entries = await zipDirectory(root, { crcCache: cache });
  assert.equal(entries[0]?.crc32, crc32(Buffer.from('FIRST TRACK')));
  const plan = planZip(entries);
  assert.equal((await collect(plan)).length, plan.size);
  await cache.close();
});

test('a file modified just now is not cached (it could change again within the same mtime tick)', async () => {
  await using tmp = await temporaryDirectory('racy');
  await writeFile(path.join(tmp.dir, 'fresh'), 'new');
  const cache = await CrcCache.open(path.join(tmp.dir, 'crc.txt'));
  const root = tmp.dir;
  const entries = await zipDirectory(root, { crcCache: cache });
  assert.equal(entries.find((entry) => entry.name === 'fresh')?.crc32, crc32(Buffer.from('new')));
  assert.equal(cache.stats().writes, 0);
  await cache.close();
});

test('a torn or damaged record is skipped; the rest of the cache survives and later appends are intact', async () => {
  await using tmp = await temporaryDirectory('torn');
  const file = path.join(tmp.dir, 'crc.txt');
  const identity = (ino: number) => ({ dev: 1n, ino: BigInt(ino), size: 10n, mtimeNs: 1_000_000_000n });
  const cache = await CrcCache.open(file);
  for (let ino = 1; ino <= 3; ino++) await cache.set(identity(ino), 0x1000 + ino);
  await cache.close();
  const text = await readFile(file, 'latin1');
  const lines = text.split('\n');
  // damage record 2 (flip a digit of its CRC) and tear a fourth record mid-line (a crash mid-write)
  lines[1] = lines[1]!.replace(
    / ([0-9a-f]{8}) ([0-9a-f]{8})$/,
    (_all, crc: string, check: string) => ` ${crc.replace(/.$/, (d) => (d === '0' ? '1' : '0'))} ${check}`,
  );
  await writeFile(file, `${lines.join('\n')}v1 1 4 10 1000000000 000010`);
  const reopened = await CrcCache.open(file);
  assert.equal(reopened.get(identity(1)), 0x1001);
  assert.equal(reopened.get(identity(2)), undefined, 'the damaged record is not trusted');
  assert.equal(reopened.get(identity(3)), 0x1003);
  assert.equal(reopened.get(identity(4)), undefined, 'the torn record is lost, nothing else');
  assert.equal(reopened.stats().skippedRecords, 2);
  await reopened.set(identity(5), 0x1005);
  await reopened.close();
  const again = await CrcCache.open(file);
  assert.equal(again.get(identity(5)), 0x1005, 'an append after a torn record starts on its own line');
  assert.equal(again.get(identity(3)), 0x1003);
  await again.close();
});

test('superseded records are compacted away atomically; the bound holds', async () => {
  await using tmp = await temporaryDirectory('compact');
  const file = path.join(tmp.dir, 'crc.txt');
  const cache = await CrcCache.open(file, { maxEntries: 100 });
  const identity = (ino: number) => ({ dev: 7, ino, size: 1, mtimeNs: 5n });
  for (let round = 0; round < 30; round++) {
    for (let ino = 0; ino < 100; ino++) await cache.set(identity(ino), round);
  }
  await cache.set(identity(100), 42); // one over the bound: the oldest goes
  assert.equal(cache.stats().entries, 100);
  assert.equal(cache.get(identity(0)), undefined);
  const before = (await stat(file)).size;
  await cache.close();
  const after = (await stat(file)).size;
  assert.ok(after < before / 10, `compacted from ${before} to ${after} bytes`);
  const reopened = await CrcCache.open(file, { maxEntries: 100 });
  assert.equal(reopened.stats().entries, 100);
  assert.equal(reopened.get(identity(99)), 29);
  assert.equal(reopened.get(identity(100)), 42);
  await reopened.close();
});

test('an unusable cache path fails with SLUICE_ERR_CRC_CACHE', async () => {
  await using tmp = await temporaryDirectory('bad-cache');
  await writeFile(path.join(tmp.dir, 'file'), 'not a directory');
  await assert.rejects(CrcCache.open(path.join(tmp.dir, 'file', 'crc.txt')), codeOf('SLUICE_ERR_CRC_CACHE'));
  await assert.rejects(CrcCache.open(tmp.dir), codeOf('SLUICE_ERR_CRC_CACHE'), 'a directory');
});

test('the default location follows XDG_CACHE_HOME', () => {
  const saved = process.env.XDG_CACHE_HOME;
  process.env.XDG_CACHE_HOME = '/somewhere/cache';
  try {
    assert.equal(CrcCache.defaultPath(), '/somewhere/cache/sluice/crc32-v1.txt');
  } finally {
    if (saved === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved;
  }
});
