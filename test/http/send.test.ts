import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { BufferPool } from '../../src/buffers/index.js';
import { createBufferBudget } from '../../src/http/budget.js';
import { sendFile, sendZip, type ZipPlanLike } from '../../src/http/send.js';
import { eventually, openFds, patternBytes, request, tempDir, writeFiles } from './helpers.js';

const FILE_SIZE = 300_000;
const content = patternBytes(FILE_SIZE, 11);
const temp = tempDir();
let pool: BufferPool;
let server: http.Server;
let base: string;
let port: number;

before(async () => {
  await writeFiles(temp.dir, {
    'track.mp3': content,
    // larger than loopback socket buffers (up to ~6 MiB each way), so a paused client stalls the server
    'long.mp3': patternBytes(24 * 1024 * 1024, 12),
    'empty.txt': Buffer.alloc(0),
    'dir/x.txt': 'x',
  });
  // 4 windows of 4 KiB: small enough that the tests below exhaust it
  pool = createBufferBudget({ windowSize: 4096, bufferBudget: 4 * 4096 });
  server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/started') {
      res.writeHead(200);
      res.write('x');
      sendFile(req, res, path.join(temp.dir, 'track.mp3'), { pool }).catch((error: Error) =>
        res.end(error.message),
      );
      return;
    }
    void sendFile(req, res, path.join(temp.dir, decodeURIComponent(url.pathname)), {
      pool,
      filename: url.searchParams.get('name') ?? undefined,
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

after(() => {
  server.close();
  temp.remove();
});

test('GET sends the file with validators and length; HEAD the same headers without a body', async () => {
  const get = await request(`${base}/track.mp3?name=Chapitre%20%C3%A9t%C3%A9.mp3`);
  assert.equal(get.status, 200);
  assert.ok(get.body.equals(content));
  assert.equal(get.headers['content-length'], String(FILE_SIZE));
  assert.equal(get.headers['content-type'], 'audio/mpeg');
  assert.equal(get.headers['accept-ranges'], 'bytes');
  assert.match(get.headers.etag ?? '', /^"[0-9a-f]+-[0-9a-f]+-[0-9a-f]+"$/);
  assert.ok(get.headers['last-modified']);
  assert.equal(
    get.headers['content-disposition'],
    `attachment; filename="Chapitre ete.mp3"; filename*=UTF-8''Chapitre%20%C3%A9t%C3%A9.mp3`,
  );
  const head = await request(`${base}/track.mp3`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.equal(head.headers['content-length'], String(FILE_SIZE));
  assert.equal(head.headers.etag, get.headers.etag);
});

test('Range: 206 with exactly the bytes asked for, for many ranges', async () => {
  const cases: [string, number, number][] = [
    ['bytes=0-0', 0, 0],
    ['bytes=0-4095', 0, 4095],
    ['bytes=4095-4096', 4095, 4096],
    ['bytes=123456-', 123456, FILE_SIZE - 1],
    ['bytes=-1', FILE_SIZE - 1, FILE_SIZE - 1],
    ['bytes=-70000', FILE_SIZE - 70000, FILE_SIZE - 1],
    ['bytes=299000-999999', 299000, FILE_SIZE - 1],
    ['bytes=10-19, 20-29', 10, 29],
  ];
  for (let i = 0; i < 12; i++) {
    const start = (i * 7919 * 13) % FILE_SIZE;
    const end = Math.min(FILE_SIZE - 1, start + ((i * 104729) % 50000));
    cases.push([`bytes=${start}-${end}`, start, end]);
  }
  for (const [header, start, end] of cases) {
    const response = await request(`${base}/track.mp3`, { headers: { range: header } });
    assert.equal(response.status, 206, header);
    assert.equal(response.headers['content-range'], `bytes ${start}-${end}/${FILE_SIZE}`);
    assert.equal(response.headers['content-length'], String(end - start + 1));
    assert.ok(response.body.equals(content.subarray(start, end + 1)), header);
  }
});

test('unsatisfiable ranges get 416 with bytes */size; malformed and disjoint ranges get the full 200', async () => {
  const unsatisfiable = await request(`${base}/track.mp3`, { headers: { range: `bytes=${FILE_SIZE}-` } });
  assert.equal(unsatisfiable.status, 416);
  assert.equal(unsatisfiable.headers['content-range'], `bytes */${FILE_SIZE}`);
  for (const range of ['bytes=abc', 'bytes=5-1', 'chars=0-1', 'bytes=0-1,100-200']) {
    const response = await request(`${base}/track.mp3`, { headers: { range } });
    assert.equal(response.status, 200, range);
    assert.ok(response.body.equals(content), range);
  }
});

test('conditional requests: 304, 412, If-Range', async () => {
  const { headers } = await request(`${base}/track.mp3`, { method: 'HEAD' });
  const etag = headers.etag!;
  const notModified = await request(`${base}/track.mp3`, { headers: { 'if-none-match': etag } });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.body.length, 0);
  assert.equal(notModified.headers.etag, etag);
  const byDate = await request(`${base}/track.mp3`, {
    headers: { 'if-modified-since': headers['last-modified']! },
  });
  assert.equal(byDate.status, 304);
  const failed = await request(`${base}/track.mp3`, { headers: { 'if-match': '"nope"' } });
  assert.equal(failed.status, 412);
  const resumed = await request(`${base}/track.mp3`, {
    headers: { range: 'bytes=100-199', 'if-range': etag },
  });
  assert.equal(resumed.status, 206);
  assert.ok(resumed.body.equals(content.subarray(100, 200)));
  const changed = await request(`${base}/track.mp3`, {
    headers: { range: 'bytes=100-199', 'if-range': '"old"' },
  });
  assert.equal(changed.status, 200);
  assert.ok(changed.body.equals(content));
});

test('missing files, directories, other methods, empty files, started responses', async () => {
  assert.equal((await request(`${base}/nope.mp3`)).status, 404);
  assert.equal((await request(`${base}/dir`)).status, 404);
  const post = await request(`${base}/track.mp3`, { method: 'POST' });
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const empty = await request(`${base}/empty.txt`, { headers: { range: 'bytes=0-' } });
  assert.equal(empty.status, 200);
  assert.equal(empty.headers['content-length'], '0');
  const started = await request(`${base}/started`);
  assert.match(started.body.toString(), /SLUICE_ERR_RESPONSE_STARTED|already sent/);
});

test('the budget bounds all connections together; waiting connections are all served', async () => {
  const stats0 = pool.stats();
  const clients = 16;
  const bodies = await Promise.all(
    Array.from({ length: clients }, (_, i) =>
      request(`${base}/track.mp3`, { headers: { range: `bytes=${i * 1000}-` } }),
    ),
  );
  for (const [i, body] of bodies.entries())
    assert.ok(body.body.equals(content.subarray(i * 1000)), `client ${i}`);
  const stats = pool.stats();
  assert.ok(stats.peakInUse <= stats.maxSlabs);
  assert.equal(stats.maxSlabs, 4);
  assert.equal(stats.inUse, 0);
  // more acquires than transfers: under contention, transfers gave their window up between windows
  assert.ok(stats.acquires - stats0.acquires > clients, JSON.stringify({ stats0, stats }));
});

test('aborted downloads close their file and return their window at once', async () => {
  // warm up lazily created handles (the pool, the server's sockets) before counting
  await request(`${base}/track.mp3`);
  const fdsBefore = openFds();
  const sockets: net.Socket[] = [];
  for (let i = 0; i < 12; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    // a paused reader of a file larger than the socket buffers: the server stalls holding a window
    socket.setNoDelay(true);
    socket.write('GET /long.mp3 HTTP/1.1\r\nHost: x\r\n\r\n');
    await once(socket, 'data');
    socket.pause();
    sockets.push(socket);
  }
  await eventually(() => pool.stats().inUse + pool.stats().waiting >= 4, 5000, 'transfers in flight');
  for (const socket of sockets) socket.destroy();
  await eventually(() => pool.stats().inUse === 0 && pool.stats().waiting === 0, 5000, 'windows returned');
  await eventually(() => openFds() <= fdsBefore, 5000, `fds back to ${fdsBefore} (now ${openFds()})`);
});

/** A fake plan whose stream reuses ONE buffer for every chunk, as pooled windows are reused. */
function fakePlan(
  bytes: Buffer,
  rangeable = true,
): ZipPlanLike & { calls: { start: number; end: number }[] } {
  const calls: { start: number; end: number }[] = [];
  return {
    size: bytes.length,
    etag: '"fake-plan-1"',
    rangeable,
    entries: [{ mtime: new Date('2021-03-04T05:06:07Z') }],
    calls,
    async *stream(options = {}) {
      const start = options.start ?? 0;
      const end = options.end ?? bytes.length - 1;
      calls.push({ start, end });
      const window = Buffer.alloc(1000);
      for (let offset = start; offset <= end; offset += window.length) {
        const length = Math.min(window.length, end - offset + 1);
        bytes.copy(window, 0, offset, offset + length);
        yield window.subarray(0, length);
        // the previous window is now overwritten: a server that kept it unflushed sends garbage
        window.fill(0xee);
      }
    },
  };
}

test('sendZip: full, ranged and HEAD; the reused window is never overwritten before the socket took it', async () => {
  const archive = patternBytes(200_000, 99);
  const plan = fakePlan(archive);
  const zipServer = http.createServer((req, res) => {
    void sendZip(req, res, plan, { filename: 'Война и мир.zip', pool });
  });
  zipServer.listen(0, '127.0.0.1');
  await once(zipServer, 'listening');
  const url = `http://127.0.0.1:${(zipServer.address() as AddressInfo).port}/`;
  try {
    const full = await request(url);
    assert.equal(full.status, 200);
    assert.equal(full.headers['content-type'], 'application/zip');
    assert.equal(full.headers.etag, '"fake-plan-1"');
    assert.equal(full.headers['last-modified'], 'Thu, 04 Mar 2021 05:06:07 GMT');
    assert.match(
      full.headers['content-disposition'] ?? '',
      /^attachment; filename="_____ _ ___\.zip"; filename\*=UTF-8''/,
    );
    assert.ok(full.body.equals(archive));
    const part = await request(url, {
      headers: { range: 'bytes=150000-160000', 'if-range': '"fake-plan-1"' },
    });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(archive.subarray(150000, 160001)));
    assert.deepEqual(plan.calls.at(-1), { start: 150000, end: 160000 });
    const head = await request(url, { method: 'HEAD' });
    assert.equal(head.headers['content-length'], '200000');
    assert.equal(plan.calls.length, 2, 'HEAD does not stream');
  } finally {
    zipServer.close();
  }
});

test('sendZip: a plan that is not rangeable ignores Range and says Accept-Ranges: none', async () => {
  const archive = patternBytes(5000, 3);
  const plan = fakePlan(archive, false);
  const zipServer = http.createServer((req, res) => {
    void sendZip(req, res, plan, { filename: 'a.zip', pool });
  });
  zipServer.listen(0, '127.0.0.1');
  await once(zipServer, 'listening');
  try {
    const response = await request(`http://127.0.0.1:${(zipServer.address() as AddressInfo).port}/`, {
      headers: { range: 'bytes=0-9' },
    });
    assert.equal(response.status, 200);
    assert.equal(response.headers['accept-ranges'], 'none');
    assert.ok(response.body.equals(archive));
  } finally {
    zipServer.close();
  }
});

test('a client that leaves while waiting for a window leaves the queue at once', async () => {
  // hold every window of the budget so the next transfer has to wait
  const held = [await pool.acquire(), await pool.acquire(), await pool.acquire(), await pool.acquire()];
  try {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write('GET /track.mp3 HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(() => pool.stats().waiting === 1, 3000, 'a waiting transfer');
    socket.destroy();
    await eventually(() => pool.stats().waiting === 0, 3000, 'the waiter gone');
  } finally {
    for (const window of held) pool.release(window);
  }
  assert.equal(pool.stats().inUse, 0);
});
