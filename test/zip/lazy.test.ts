import assert from 'node:assert/strict';
import { utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { BufferPool } from '../../src/buffers/index.js';
import {
  crc32,
  planZip,
  type ZipEntryInput,
  type ZipPlan,
  type ZipStreamOptions,
} from '../../src/zip/index.js';
import { codeOf, openFdCount, openFilesUnder, temporaryDirectory } from './helpers.js';

async function collectWith(plan: ZipPlan, options: ZipStreamOptions): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of plan.stream(options)) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

const MTIME = Date.UTC(2021, 0, 1);
const FILE_SIZE = 3 << 20; // three 1 MiB windows per file

async function book(dir: string, files: number): Promise<ZipEntryInput[]> {
  const entries: ZipEntryInput[] = [];
  for (let index = 0; index < files; index++) {
    const bytes = Buffer.alloc(FILE_SIZE, index + 1);
    const source = path.join(dir, `track-${index}.mp3`);
    await writeFile(source, bytes);
    await utimes(source, MTIME / 1000, MTIME / 1000);
    entries.push({ name: `track-${index}.mp3`, source, size: FILE_SIZE, crc32: crc32(bytes), mtime: MTIME });
  }
  return entries;
}

test('the stream is lazy: one file open at a time (openAhead: false), only while its bytes are due', async () => {
  await using tmp = await temporaryDirectory('lazy');
  const plan = planZip(await book(tmp.dir, 4));
  const iterator = plan.stream({ openAhead: false })[Symbol.asyncIterator]();
  assert.deepEqual(await openFilesUnder(tmp.dir), [], 'nothing opened before the first pull');
  const seen = new Set<string>();
  let total = 0;
  for (let result = await iterator.next(); result.done !== true; result = await iterator.next()) {
    total += result.value.length;
    const open = await openFilesUnder(tmp.dir);
    assert.ok(open.length <= 1, `at most one file open, got ${open.join(', ')}`);
    for (const file of open) seen.add(file);
  }
  assert.equal(total, plan.size);
  assert.equal(seen.size, 4, 'every file was opened while its data went by');
  assert.deepEqual(await openFilesUnder(tmp.dir), [], 'and closed after');
});

test('by default the next file opens while the last windows of the current one go by: two at most, in order', async () => {
  await using tmp = await temporaryDirectory('open-ahead');
  const plan = planZip(await book(tmp.dir, 4));
  const iterator = plan.stream()[Symbol.asyncIterator]();
  assert.deepEqual(await openFilesUnder(tmp.dir), [], 'nothing opened before the first pull');
  const chunks: Buffer[] = [];
  let most = 0;
  for (let result = await iterator.next(); result.done !== true; result = await iterator.next()) {
    chunks.push(Buffer.from(result.value));
    const open = (await openFilesUnder(tmp.dir)).map((file) => path.basename(file)).sort();
    most = Math.max(most, open.length);
    assert.ok(open.length <= 2, `at most two files open, got ${open.join(', ')}`);
    if (open.length === 2) {
      const [first, second] = open.map((name) => Number(/track-(\d)/.exec(name)?.[1]));
      assert.equal(second, first! + 1, 'the one streaming and the next');
    }
  }
  assert.equal(most, 2, 'the next file was opened ahead');
  assert.deepEqual(await openFilesUnder(tmp.dir), [], 'every file closed after');
  const whole = Buffer.concat(chunks);
  assert.ok(whole.equals(await collectWith(plan, { openAhead: false })), 'the same bytes either way');
});

test('a range opens only the files it covers, reading no bytes before start', async () => {
  await using tmp = await temporaryDirectory('range-lazy');
  const entries = await book(tmp.dir, 4);
  const plan = planZip(entries);
  const start = plan.size - 200; // inside the central directory (4 x 70 bytes + 22)
  let opened = 0;
  for await (const chunk of plan.stream({ start })) {
    opened += (await openFilesUnder(tmp.dir)).length;
    assert.ok(chunk.length <= 200);
  }
  assert.equal(opened, 0, 'no file was opened for a range in the central directory');
});

test('an early return closes the open file at once and returns its window to the pool', async () => {
  await using tmp = await temporaryDirectory('return');
  const plan = planZip(await book(tmp.dir, 2));
  const pool = new BufferPool({ slabSize: 1 << 20, maxSlabs: 1, name: 'return-test' });
  const before = await openFdCount();
  let chunks = 0;
  for await (const chunk of plan.stream({ pool })) {
    assert.ok(chunk.length > 0);
    if (++chunks === 2) {
      assert.equal((await openFilesUnder(tmp.dir)).length, 1, 'a file is open mid-stream');
      assert.equal(pool.stats().inUse, 1);
      break;
    }
  }
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
  assert.equal(await openFdCount(), before, 'no descriptor leaked');
  assert.equal(pool.stats().inUse, 0);
});

test('an early return while the next file is open ahead closes both and returns every window', async () => {
  await using tmp = await temporaryDirectory('return-ahead');
  const plan = planZip(await book(tmp.dir, 3));
  const pool = new BufferPool({ slabSize: 1 << 20, maxSlabs: 16, name: 'return-ahead-test' });
  const before = await openFdCount();
  let sawTwo = false;
  for await (const chunk of plan.stream({ pool, openAhead: true })) {
    assert.ok(chunk.length > 0);
    if ((await openFilesUnder(tmp.dir)).length === 2) {
      sawTwo = true;
      break;
    }
  }
  assert.ok(sawTwo, 'two files were open at once');
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
  assert.equal(await openFdCount(), before, 'no descriptor leaked');
  assert.equal(pool.stats().inUse, 0);
});

test('aborting fails the stream with SLUICE_ERR_ABORTED and closes the file', async () => {
  await using tmp = await temporaryDirectory('abort');
  const plan = planZip(await book(tmp.dir, 2));
  const controller = new AbortController();
  let chunks = 0;
  await assert.rejects(async () => {
    for await (const _chunk of plan.stream({ signal: controller.signal })) {
      if (++chunks === 2) controller.abort(new Error('client went away'));
    }
  }, codeOf('SLUICE_ERR_ABORTED'));
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
  const aborted = AbortSignal.abort();
  await assert.rejects(async () => {
    for await (const _chunk of plan.stream({ signal: aborted })) assert.fail('no chunk after abort');
  }, codeOf('SLUICE_ERR_ABORTED'));
});

test('file windows are the pool slabs themselves (no copy), and the pool bounds them', async () => {
  await using tmp = await temporaryDirectory('pool');
  const plan = planZip(await book(tmp.dir, 1));
  const pool = new BufferPool({ slabSize: 64 * 1024, maxSlabs: 1, name: 'zero-copy' });
  let windows = 0;
  for await (const chunk of plan.stream({ pool })) {
    if (chunk.length === 64 * 1024 && pool.stats().inUse === 1) windows++;
    assert.ok(pool.stats().inUse <= 1);
  }
  assert.equal(windows, FILE_SIZE / (64 * 1024));
  assert.equal(pool.stats().peakInUse, 1);
});

test('streams on one pool take turns: neither keeps the only window for a whole file', async () => {
  await using tmp = await temporaryDirectory('turns');
  const plan = planZip(await book(tmp.dir, 2));
  const expected = await collectWith(plan, {});
  const pool = new BufferPool({ slabSize: 256 * 1024, maxSlabs: 1, name: 'turns' });
  // Who got each pooled window, in order: with turns, two busy streams alternate.
  const owners: number[] = [];
  const download = async (index: number): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of plan.stream({ pool })) {
      if (chunk.length === pool.slabSize) owners.push(index);
      chunks.push(Buffer.from(chunk));
      await new Promise((resolve) => setImmediate(resolve)); // a client slower than the disk
    }
    return Buffer.concat(chunks);
  };
  const [first, second] = await Promise.all([download(0), download(1)]);
  assert.ok(first.equals(expected));
  assert.ok(second.equals(expected));
  assert.equal(owners.length, 2 * ((2 * FILE_SIZE) / pool.slabSize));
  let longestRun = 1;
  for (let at = 1, run = 1; at < owners.length; at++) {
    run = owners[at] === owners[at - 1] ? run + 1 : 1;
    longestRun = Math.max(longestRun, run);
  }
  // without turns the first stream keeps the window for a whole file: 12 windows in a row
  assert.ok(longestRun <= 2, `a stream kept the window for ${longestRun} windows in a row`);
  assert.equal(pool.stats().inUse, 0);
});
