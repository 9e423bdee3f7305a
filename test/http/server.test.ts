import assert from 'node:assert/strict';
import { once } from 'node:events';
import { symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { createDownloadServer, type DownloadServer } from '../../src/http/server.js';
import {
  eventually,
  openFds,
  patternBytes,
  rawExchange,
  request,
  statusOf,
  tempDir,
  writeFiles,
} from './helpers.js';

const temp = tempDir();
const outside = tempDir('sluice-outside-');
const SECRET = 'top secret outside the root';
// larger than loopback socket buffers, so a paused client really stalls its transfer
const big = patternBytes(16 * 1024 * 1024, 5);
let server: DownloadServer;
let port: number;
let base: string;

before(async () => {
  await writeFiles(temp.dir, {
    'Les Misérables/01 Fantine.mp3': patternBytes(100_000, 1),
    'Les Misérables/02 Cosette.mp3': patternBytes(50_000, 2),
    'Big/big.mp3': big,
    'loose.txt': 'a loose file\n',
    '.hidden/secret.txt': SECRET,
  });
  writeFileSync(path.join(outside.dir, 'secret.txt'), SECRET);
  symlinkSync(outside.dir, path.join(temp.dir, 'escape'));
  symlinkSync(path.join(outside.dir, 'secret.txt'), path.join(temp.dir, 'Big', 'link.txt'));
  server = createDownloadServer({
    root: temp.dir,
    crcCachePath: false,
    windowSize: 16 * 1024,
    bufferBudget: 8 * 16 * 1024,
    maxConnections: 6,
    headersTimeoutMs: 300,
    idleTimeoutMs: 1500,
    maxHeaderSize: 8 * 1024,
  });
  base = await server.listen(0, '127.0.0.1');
  port = Number(new URL(base).port);
});

after(async () => {
  await server.close({ graceMs: 100 });
  temp.remove();
  outside.remove();
});

test('index page, /api/books and files by URL, including non-ASCII names', async () => {
  const index = await request(base);
  assert.equal(index.status, 200);
  assert.match(index.headers['content-type'] ?? '', /^text\/html/);
  const html = index.body.toString();
  assert.match(html, /Les Misérables/);
  assert.match(html, /href="\/Les%20Mis%C3%A9rables\/01%20Fantine\.mp3"/);
  assert.doesNotMatch(html, /hidden|secret/);
  const api = JSON.parse((await request(`${base}api/books`)).body.toString()) as {
    books: {
      name: string;
      bytes: number;
      zip: string | null;
      files: { name: string; href: string; size: number }[];
    }[];
    files: { name: string }[];
  };
  const book = api.books.find((entry) => entry.name === 'Les Misérables')!;
  assert.equal(book.bytes, 150_000);
  assert.equal(book.zip, '/Les%20Mis%C3%A9rables.zip');
  assert.deepEqual(
    book.files.map((file) => file.name),
    ['01 Fantine.mp3', '02 Cosette.mp3'],
  );
  assert.deepEqual(
    api.files.map((file) => file.name),
    ['loose.txt'],
  );
  const file = await request(`${base}${book.files[0]!.href.slice(1)}`);
  assert.equal(file.status, 200);
  assert.ok(file.body.equals(patternBytes(100_000, 1)));
  assert.equal((await request(`${base}loose.txt`)).body.toString(), 'a loose file\n');
  const zip = await request(`${base}Big.zip`);
  assert.equal(zip.status, 200);
  assert.equal(zip.headers['content-type'], 'application/zip');
  assert.ok(!zip.body.includes(SECRET), 'a symlink leaving the root is not archived');
  assert.ok(zip.body.includes('Big/big.mp3'), 'entries are under the book folder');
  assert.equal((await request(`${base}nothing.zip`)).status, 404);
  assert.equal((await request(`${base}`, { method: 'DELETE' })).status, 405);
});

test('/metrics is Prometheus text with connections, bytes, budget, lag, RSS and fds', async () => {
  const response = await request(`${base}metrics`);
  assert.equal(response.status, 200);
  assert.match(response.headers['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
  const text = response.body.toString();
  for (const name of [
    'sluice_http_connections_open',
    'sluice_http_sent_bytes_total',
    'sluice_buffer_budget_bytes',
    'sluice_buffer_in_use_bytes',
    'sluice_open_files',
    'sluice_event_loop_lag_p99_seconds',
    'process_resident_memory_bytes',
    'process_open_fds',
    'nodejs_heap_size_total_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_external_memory_bytes',
  ]) {
    assert.match(text, new RegExp(`^# TYPE ${name} (gauge|counter)$`, 'm'), name);
    assert.match(text, new RegExp(`^${name} [0-9.e+-]+$`, 'm'), name);
  }
  assert.match(text, /^sluice_buffer_budget_bytes 131072$/m);
  assert.match(text, /^sluice_http_requests_total\{status="200"\} \d+$/m);
});

test('traversal in every spelling gets 400/403/404 and never a byte from outside the root', async () => {
  const attempts: [string, number][] = [
    ['/../etc/passwd', 400],
    ['/%2e%2e/%2e%2e/etc/passwd', 400],
    ['/%2E%2E%2Fetc%2Fpasswd', 400],
    ['/Big/..%2f..%2fetc%2fpasswd', 400],
    ['/Big/..%5c..%5cetc%5cpasswd', 400],
    ['/Big\\..\\..\\etc\\passwd', 400],
    ['/loose.txt%00.mp3', 400],
    ['//etc/passwd', 400],
    ['/%ZZ', 400],
    ['http://127.0.0.1/../../etc/passwd', 400],
    ['/.hidden/secret.txt', 404],
    ['/%2ehidden/secret.txt', 404],
    ['/escape/secret.txt', 403],
    ['/Big/link.txt', 403],
    ['/escape.zip', 403],
  ];
  for (const [target, status] of attempts) {
    const raw = await rawExchange(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const got = statusOf(raw);
    assert.equal(got, status, `${target}: expected ${status}, got ${got}`);
    assert.ok(!raw.includes(SECRET), `${target} leaked the secret`);
    assert.ok(!raw.includes('root:x:0'), `${target} leaked /etc/passwd`);
  }
});

test('malformed Range values get a clear answer (200 full or 416), never a broken body', async () => {
  const size = 100_000;
  for (const range of ['bytes=99999999-', 'bytes=-0']) {
    const response = await request(`${base}Les%20Mis%C3%A9rables/01%20Fantine.mp3`, { headers: { range } });
    assert.equal(response.status, 416, range);
    assert.equal(response.headers['content-range'], `bytes */${size}`);
  }
  const hostile = `bytes=${Array.from({ length: 500 }, (_, i) => `${i}-${i}`).join(',')}`;
  for (const range of ['bytes=x-y', 'bytes=1-2-3', 'bytes=5-2', hostile, 'bytes=0-1,50-60']) {
    const response = await request(`${base}Les%20Mis%C3%A9rables/01%20Fantine.mp3`, { headers: { range } });
    assert.equal(response.status, 200, range.slice(0, 30));
    assert.equal(response.body.length, size);
  }
});

test('oversized headers get 431', async () => {
  const raw = await rawExchange(port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
  assert.equal(statusOf(raw), 431);
});

test('a slow-header client gets 408 and is disconnected', async () => {
  const raw = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n', 5000);
  assert.equal(statusOf(raw), 408);
});

test('connections over the cap get 503 and close; capacity comes back when one closes', async () => {
  await eventually(() => server.metrics.connectionsOpen === 0, 5000, 'idle connections gone');
  const held: net.Socket[] = [];
  for (let i = 0; i < 6; i++) {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    held.push(socket);
  }
  await eventually(() => server.metrics.connectionsOpen === 6, 2000, 'six connections');
  const rejected = await rawExchange(port, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.equal(statusOf(rejected), 503);
  assert.ok(server.metrics.connectionsRejected >= 1);
  held.pop()!.destroy();
  await eventually(() => server.metrics.connectionsOpen === 5, 2000, 'one closed');
  const accepted = await rawExchange(port, 'GET /loose.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  assert.equal(statusOf(accepted), 200);
  for (const socket of held) socket.destroy();
});

test('a client that stops reading is cut after the idle timeout and its window returned', async () => {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET /Big/big.mp3 HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'data');
  socket.pause();
  await eventually(() => server.metrics.transfersActive === 1, 2000, 'transfer running');
  const abortedBefore = server.metrics.transfersAborted;
  await eventually(() => server.metrics.transfersActive === 0, 6000, 'idle transfer cut');
  assert.equal(server.metrics.transfersAborted, abortedBefore + 1);
  assert.equal(server.pool.stats().inUse, 0);
  socket.destroy();
});

test('close() is graceful: a running download finishes, new connections are refused', async () => {
  const graceful = createDownloadServer({ root: temp.dir, zip: false });
  const url = await graceful.listen(0, '127.0.0.1');
  const chunks: Buffer[] = [];
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1');
  socket.write('GET /Big/big.mp3 HTTP/1.1\r\nHost: x\r\n\r\n');
  await once(socket, 'data').then(([chunk]) => chunks.push(chunk as Buffer));
  socket.pause();
  const closed = graceful.close({ graceMs: 10_000 });
  await assert.rejects(request(url), /ECONNREFUSED/);
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.resume();
  await Promise.all([once(socket, 'end'), closed]);
  const response = Buffer.concat(chunks);
  const body = response.subarray(response.indexOf('\r\n\r\n') + 4);
  assert.ok(body.equals(big), `received ${body.length} of ${big.length} bytes`);
  socket.destroy();
});

test('aborted ZIP downloads close their files and return their windows (fds and pool agree)', async () => {
  await request(`${base}Big.zip`);
  const fdsBefore = openFds();
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 5; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /Big.zip HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.pause();
    sockets.push(socket);
  }
  await eventually(() => server.metrics.transfersActive === 5, 3000, 'five ZIP transfers running');
  for (const socket of sockets) socket.destroy();
  await eventually(() => server.metrics.transfersActive === 0, 3000, 'transfers ended');
  await eventually(() => server.pool.stats().inUse === 0, 3000, 'windows returned');
  await eventually(() => openFds() <= fdsBefore, 3000, `fds back to ${fdsBefore}`);
  // idle: the budget's windows are freed (allocated again on demand)
  await eventually(() => server.pool.stats().allocated === 0, 3000, 'idle windows trimmed');
});
