import assert from 'node:assert/strict';
import { once } from 'node:events';
import { rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import fc from 'fast-check';
import { createBufferBudget } from '../../src/http/budget.js';
import { openFileCount, openFileWindows } from '../../src/http/file-windows.js';
import { fileKeyOf, HotWindows } from '../../src/http/hot-windows.js';
import { sendFile } from '../../src/http/send.js';
import { createDownloadServer, type DownloadServer } from '../../src/http/server.js';
import { eventually, patternBytes, request, tempDir, writeFiles } from './helpers.js';

const KiB = 1024;
const temp = tempDir('sluice-hot-');
const small = patternBytes(10 * KiB + 123, 21);

before(async () => {
  await writeFiles(temp.dir, { 'small.bin': small });
});
after(() => temp.remove());

test('HotWindows: a file is admitted from its second request, and only when at most half the cache', () => {
  const cache = new HotWindows(100);
  assert.equal(cache.admit('a', 50), false, 'first request');
  assert.equal(cache.admit('a', 50), true, 'second request');
  assert.equal(cache.admit('a', 50), true);
  assert.equal(cache.admit('big', 51), false);
  assert.equal(cache.admit('big', 51), false, 'over half the cache: never');
  assert.equal(new HotWindows(0).admit('a', 0), false, 'a cache of 0 bytes keeps nothing');
});

test('HotWindows: copies, evicts the least recently used, counts hits and misses, stays within its bytes', () => {
  const cache = new HotWindows(30);
  const ten = Buffer.alloc(10, 1);
  cache.put('f', 0, ten);
  ten.fill(9); // the cache kept a copy
  assert.deepEqual(cache.get('f', 0), Buffer.alloc(10, 1));
  cache.put('f', 1, Buffer.alloc(10, 2));
  cache.put('f', 2, Buffer.alloc(10, 3));
  cache.get('f', 0); // now the most recently used
  cache.put('g', 0, Buffer.alloc(10, 4)); // evicts f#1, the least recently used
  assert.equal(cache.get('f', 1), undefined);
  assert.deepEqual(cache.get('f', 2), Buffer.alloc(10, 3));
  cache.put('f', 2, Buffer.alloc(5, 5)); // replacing counts the new size only
  assert.deepEqual(cache.stats(), { maxBytes: 30, bytes: 25, windows: 3, hits: 3, misses: 1 });
  cache.put('h', 0, Buffer.alloc(31)); // larger than the whole cache: not kept
  assert.equal(cache.get('h', 0), undefined);
  cache.clear();
  assert.equal(cache.stats().bytes, 0);
});

test('HotWindows property: bytes never exceed the bound; a hit returns what was put last', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 200 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 80 }), fc.nat(255))),
      (maxBytes, puts) => {
        const cache = new HotWindows(maxBytes);
        const last = new Map<number, Buffer>();
        for (const [index, length, fill] of puts) {
          const bytes = Buffer.alloc(length, fill);
          cache.put('k', index, bytes);
          last.set(index, bytes);
          assert.ok(cache.stats().bytes <= maxBytes);
        }
        for (const [index, bytes] of last) {
          const got = cache.get('k', index);
          if (got !== undefined) assert.deepEqual(got, bytes);
        }
      },
    ),
  );
});

async function drain(
  source: ReturnType<typeof openFileWindows>,
): Promise<{ bytes: Buffer; stable: boolean[] }> {
  const parts: Buffer[] = [];
  const stable: boolean[] = [];
  for (let window = await source.next(); window !== null; window = await source.next()) {
    parts.push(Buffer.from(window));
    stable.push(source.lastStable);
  }
  await source.close();
  return { bytes: Buffer.concat(parts), stable };
}

test('file windows: cached windows are sent without opening the file; ranges cut them; unaligned ranges read', async () => {
  const file = path.join(temp.dir, 'small.bin');
  const stats = statSync(file);
  const pool = createBufferBudget({ windowSize: 4 * KiB, bufferBudget: 16 * KiB });
  const cache = new HotWindows(64 * KiB);
  const fileKey = fileKeyOf(stats);
  const open = (start: number, end: number) =>
    openFileWindows(file, { start, end, expectedSize: stats.size, pool, hot: { cache, fileKey } });
  const first = await drain(open(0, stats.size - 1)); // reads, keeps 3 windows (4 KiB, 4 KiB, the last one)
  assert.deepEqual(first.bytes, small);
  assert.deepEqual(first.stable, [false, false, false]);
  assert.equal(cache.stats().windows, 3);
  const opened = openFileCount();
  const second = open(0, stats.size - 1);
  const window = await second.next();
  assert.equal(openFileCount(), opened, 'a cached window needs no open file');
  assert.equal(second.lastStable, true);
  assert.deepEqual(window, small.subarray(0, 4 * KiB));
  await second.close();
  // an aligned range ending mid-window: cut from the cached window
  assert.deepEqual((await drain(open(4 * KiB, 6 * KiB))).bytes, small.subarray(4 * KiB, 6 * KiB + 1));
  // an unaligned range does not use the cache (its windows start elsewhere), still right bytes
  const hitsBefore = cache.stats().hits;
  assert.deepEqual((await drain(open(100, 9000))).bytes, small.subarray(100, 9001));
  assert.equal(cache.stats().hits, hitsBefore);
  // a partial range is never cached as a whole window: only full windows and the file's last one
  const other = new HotWindows(64 * KiB);
  await drain(
    openFileWindows(file, {
      start: 0,
      end: 5000,
      expectedSize: stats.size,
      pool,
      hot: { cache: other, fileKey },
    }),
  );
  assert.equal(other.stats().windows, 1, 'the first 4 KiB only');
  pool.close();
});

test('file windows: a miss after hits opens the file at that window and goes on reading from it', async () => {
  const file = path.join(temp.dir, 'small.bin');
  const stats = statSync(file);
  const pool = createBufferBudget({ windowSize: 4 * KiB, bufferBudget: 16 * KiB });
  const cache = new HotWindows(64 * KiB);
  const fileKey = fileKeyOf(stats);
  cache.put(fileKey, 0, small.subarray(0, 4 * KiB));
  const { bytes, stable } = await drain(
    openFileWindows(file, {
      start: 0,
      end: stats.size - 1,
      expectedSize: stats.size,
      pool,
      hot: { cache, fileKey },
    }),
  );
  assert.deepEqual(bytes, small);
  assert.deepEqual(stable, [true, false, false]);
  assert.equal(openFileCount(), 0);
  pool.close();
});

let server: DownloadServer;
let base: string;
const library = tempDir('sluice-hot-library-');
const big = patternBytes(12 * 1024 * KiB, 22);

before(async () => {
  await writeFiles(library.dir, { 'big.bin': big, 'changing.bin': patternBytes(100 * KiB, 23) });
  server = createDownloadServer({
    root: library.dir,
    crcCachePath: false,
    windowSize: 256 * KiB,
    fileCacheBytes: 32 * 1024 * KiB,
  });
  base = await server.listen(0, '127.0.0.1');
});
after(async () => {
  await server.close({ graceMs: 0 });
  library.remove();
});

const counter = async (name: string): Promise<number> => {
  const text = (await request(`${base}metrics`)).body.toString();
  return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);
};

test('server: a file requested again is sent from memory, byte for byte, to a client reading slowly', async () => {
  for (let i = 0; i < 2; i++) assert.deepEqual((await request(`${base}big.bin`)).body, big);
  const hits = await counter('sluice_file_cache_hits_total');
  // the third download from the cache, through a paused socket: the server must wait for it
  const socket = net.connect(Number(new URL(base).port), '127.0.0.1');
  await once(socket, 'connect');
  socket.write('GET /big.bin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.pause();
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.resume();
  await once(socket, 'end');
  const response = Buffer.concat(chunks);
  const body = response.subarray(response.indexOf('\r\n\r\n') + 4);
  assert.deepEqual(body, big);
  assert.ok(
    (await counter('sluice_file_cache_hits_total')) >= hits + 48,
    'every window of the third from memory',
  );
  assert.equal(await counter('sluice_open_files'), 0);
  assert.ok((await counter('sluice_file_cache_bytes')) <= 32 * 1024 * KiB);
});

test('server: a changed file is a different file (size or mtime), never the cached bytes', async () => {
  const file = path.join(library.dir, 'changing.bin');
  for (let i = 0; i < 2; i++) await request(`${base}changing.bin`);
  const replacement = patternBytes(100 * KiB, 24); // same size, other bytes, another mtime
  writeFileSync(file, replacement);
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  assert.deepEqual((await request(`${base}changing.bin`)).body, replacement);
  rmSync(file);
  assert.equal((await request(`${base}changing.bin`)).status, 404);
});

test('sendFile without hotWindows never caches; HEAD and 304 do not count as requests', async () => {
  const pool = createBufferBudget({ windowSize: 4 * KiB, bufferBudget: 16 * KiB });
  const cache = new HotWindows(64 * KiB);
  const file = path.join(temp.dir, 'small.bin');
  const plain = http.createServer((req, res) => {
    void sendFile(req, res, file, { pool, hotWindows: req.url === '/cached' ? cache : undefined });
  });
  plain.listen(0, '127.0.0.1');
  await once(plain, 'listening');
  const url = `http://127.0.0.1:${(plain.address() as net.AddressInfo).port}`;
  try {
    for (let i = 0; i < 3; i++) assert.deepEqual((await request(`${url}/plain`)).body, small);
    assert.equal(cache.stats().windows, 0);
    await request(`${url}/cached`, { method: 'HEAD' });
    const etag = (await request(`${url}/cached`, { method: 'HEAD' })).headers.etag!;
    assert.equal((await request(`${url}/cached`, { headers: { 'if-none-match': etag } })).status, 304);
    await request(`${url}/cached`); // the first GET: not admitted yet
    assert.equal(cache.stats().windows, 0);
    await request(`${url}/cached`);
    assert.equal(cache.stats().windows, 3);
    await eventually(() => pool.stats().inUse === 0, 2000, 'windows back');
  } finally {
    plain.close();
    pool.close();
  }
});
