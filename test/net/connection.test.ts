import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import {
  createFrameServer,
  FramedConnection,
  type FrameServer,
  type RequestHandler,
} from '../../src/net/index.js';
import { countSocketWrites, nextTurn } from './helpers.js';

async function withServer(
  handler: RequestHandler,
  body: (client: FramedConnection, server: FrameServer) => Promise<void>,
  clientOptions: Parameters<typeof FramedConnection.connect>[0] = {},
): Promise<void> {
  const server = createFrameServer(handler);
  const { port } = await server.listen(0);
  const client = await FramedConnection.connect({ ...clientOptions, port, host: '127.0.0.1' });
  try {
    await body(client, server);
  } finally {
    client.destroy();
    await server.close();
  }
}

/** A deferred reply the test resolves when it wants. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

test('requests get their replies; strings and bytes both work', async () => {
  await withServer(
    (frame) => Buffer.concat([Buffer.from('re:'), frame]),
    async (client) => {
      assert.equal((await client.request('hello')).toString(), 're:hello');
      assert.deepEqual(
        await client.request(Uint8Array.of(1, 2, 3)),
        Buffer.from([0x72, 0x65, 0x3a, 1, 2, 3]),
      );
      assert.equal((await client.request('')).toString(), 're:');
      const big = Buffer.alloc(100_000, 9);
      assert.equal((await client.request(big)).length, 100_003);
    },
  );
});

test('out-of-order replies reach the right callers', async () => {
  const held = new Map<string, (reply: string) => void>();
  await withServer(
    (frame) => {
      const { promise, resolve } = deferred<string>();
      held.set(frame.toString(), resolve);
      return promise;
    },
    async (client) => {
      const names = Array.from({ length: 50 }, (_, index) => `request-${index}`);
      const replies = names.map((name) => client.request(name));
      while (held.size < names.length) await nextTurn();
      for (const name of [...names].reverse()) held.get(name)!(`reply to ${name}`);
      assert.deepEqual(
        (await Promise.all(replies)).map((reply) => reply.toString()),
        names.map((name) => `reply to ${name}`),
      );
    },
  );
});

test('1000 requests issued in one turn leave in a handful of writes, and so do the replies', async () => {
  await withServer(
    (frame) => frame,
    async (client) => {
      const counts = countSocketWrites(client.socket);
      const payload = Buffer.alloc(64, 1);
      const replies = Array.from({ length: 1000 }, () => client.request(payload));
      await Promise.all(replies);
      // 1000 x (9 + 64) bytes = 73 KB: one early flush at 64 KiB, then the rest at the end of the turn.
      assert.ok(counts.calls <= 3, `client wrote ${counts.calls} times`);
      assert.equal(client.stats.requests, 1000);
    },
  );
});

test("a read's synchronous replies leave in one write while the read is handled; async ones at the end of the turn", async () => {
  for (const scheduling of ['tick', 'immediate'] as const) {
    const server = createFrameServer(
      (frame) => (frame.toString().startsWith('async') ? Promise.resolve(frame) : frame),
      { scheduling },
    );
    // Writes the server's connection had made when each read's 'data' listeners had all run.
    const writesAfterRead: number[] = [];
    const writes = deferred<{ calls: number }>();
    server.on('connection', (connection: FramedConnection) => {
      const counts = countSocketWrites(connection.socket);
      writes.resolve(counts);
      connection.socket.on('data', () => writesAfterRead.push(counts.calls));
    });
    const { port } = await server.listen(0);
    const client = await FramedConnection.connect({ port, host: '127.0.0.1' });
    const counts = await writes.promise;
    // 20 requests leave in one write, so the server reads them in one chunk.
    const sync = await Promise.all(Array.from({ length: 20 }, (_, index) => client.request(`s${index}`)));
    assert.deepEqual(
      sync.map((reply) => reply.toString()),
      Array.from({ length: 20 }, (_, index) => `s${index}`),
    );
    assert.deepEqual(writesAfterRead, [scheduling === 'tick' ? 1 : 0], `${scheduling}: one read`);
    assert.equal(counts.calls, 1, `${scheduling}: the 20 replies left in one write`);
    const mixed = await Promise.all(['async0', 's0', 'async1', 's1'].map((body) => client.request(body)));
    assert.deepEqual(
      mixed.map((reply) => reply.toString()),
      ['async0', 's0', 'async1', 's1'],
    );
    // 'tick': the sync replies while the read is handled, the async ones at the end of the turn;
    // 'immediate': both after the I/O phase, together.
    assert.equal(counts.calls, scheduling === 'tick' ? 3 : 2, `${scheduling}: replies to the mixed read`);
    await client.close();
    await server.close();
  }
});

test('at most maxInFlight requests are on the wire; the others wait in order', async () => {
  let concurrent = 0;
  let peak = 0;
  const order: number[] = [];
  await withServer(
    async (frame) => {
      concurrent++;
      peak = Math.max(peak, concurrent);
      order.push(frame.readUInt32BE(0));
      await new Promise((resolve) => setTimeout(resolve, 2));
      concurrent--;
      return frame;
    },
    async (client) => {
      const replies = Array.from({ length: 40 }, (_, index) => {
        const frame = Buffer.alloc(4);
        frame.writeUInt32BE(index);
        return client.request(frame);
      });
      assert.equal(client.inFlight, 4);
      assert.equal(client.waiting, 36);
      await Promise.all(replies);
      assert.ok(peak <= 4, `peak concurrency ${peak}`);
      assert.deepEqual(
        order,
        Array.from({ length: 40 }, (_, index) => index),
      );
      assert.equal(client.inFlight, 0);
    },
    { maxInFlight: 4 },
  );
});

test('a timeout rejects with a code and frees the id and the slot; the late reply is ignored', async () => {
  const gate = deferred<string>();
  await withServer(
    (frame) => (frame.toString() === 'slow' ? gate.promise : frame),
    async (client) => {
      await assert.rejects(client.request('slow', { timeout: 20 }), { code: 'SLUICE_ERR_REQUEST_TIMEOUT' });
      assert.equal(client.inFlight, 0);
      gate.resolve('too late');
      assert.equal((await client.request('fast')).toString(), 'fast');
      assert.equal(client.stats.lateReplies, 1);
    },
    { maxInFlight: 1 },
  );
});

test('an abort frees the slot, whether the request is on the wire or still waiting', async () => {
  const gate = deferred<string>();
  await withServer(
    () => gate.promise,
    async (client) => {
      const onWire = new AbortController();
      const queued = new AbortController();
      const first = client.request('a', { signal: onWire.signal });
      const second = client.request('b', { signal: queued.signal });
      const third = client.request('c');
      assert.equal(client.inFlight, 1);
      assert.equal(client.waiting, 2);
      queued.abort();
      await assert.rejects(second, { code: 'SLUICE_ERR_ABORTED' });
      assert.equal(client.waiting, 1);
      onWire.abort(new Error('user gave up'));
      await assert.rejects(first, { code: 'SLUICE_ERR_ABORTED' });
      assert.equal(client.inFlight, 1, 'the third request took the freed slot');
      gate.resolve('done');
      assert.equal((await third).toString(), 'done');
      await assert.rejects(client.request('d', { signal: AbortSignal.abort() }), {
        code: 'SLUICE_ERR_ABORTED',
      });
    },
    { maxInFlight: 1 },
  );
});

test('losing the connection rejects every pending and waiting request with a code', async () => {
  const server = net.createServer((socket) => {
    socket.once('data', () => setTimeout(() => socket.destroy(), 10));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = await FramedConnection.connect({ port, host: '127.0.0.1', maxInFlight: 5 });
  const closed = new Promise((resolve) => client.once('close', resolve));
  const requests = Array.from({ length: 12 }, (_, index) => client.request(`r${index}`));
  const results = await Promise.allSettled(requests);
  for (const result of results) {
    assert.equal(result.status, 'rejected');
    assert.equal((result.reason as { code: string }).code, 'SLUICE_ERR_CONNECTION_CLOSED');
  }
  await closed;
  assert.equal(client.inFlight, 0);
  assert.equal(client.waiting, 0);
  await assert.rejects(client.request('after'), { code: 'SLUICE_ERR_CONNECTION_CLOSED' });
  assert.throws(() => client.send('after'), { code: 'SLUICE_ERR_CONNECTION_CLOSED' });
  server.close();
});

test("a handler's error reaches the requester as SLUICE_ERR_REMOTE with its code", async () => {
  await withServer(
    (frame) => {
      if (frame.toString() === 'sync') throw new Error('sync failure');
      return Promise.reject(Object.assign(new Error('async failure'), { code: 'E_APP' }));
    },
    async (client) => {
      await assert.rejects(
        client.request('sync'),
        (error: { code: string; remoteCode: string; message: string }) => {
          assert.equal(error.code, 'SLUICE_ERR_REMOTE');
          assert.equal(error.remoteCode, 'ERROR');
          assert.match(error.message, /sync failure/);
          return true;
        },
      );
      await assert.rejects(client.request('async'), { code: 'SLUICE_ERR_REMOTE', remoteCode: 'E_APP' });
    },
  );
});

test("one-way frames arrive as 'frame' events, both directions", async () => {
  const server = createFrameServer((frame) => frame);
  const received: string[] = [];
  server.on('connection', (connection: FramedConnection) => {
    connection.on('frame', (frame: Buffer) => {
      received.push(frame.toString());
      connection.send(`echo ${frame.toString()}`);
    });
  });
  const { port } = await server.listen(0);
  const client = await FramedConnection.connect({ port, host: '127.0.0.1' });
  const echoes: string[] = [];
  const done = new Promise<void>((resolve) => {
    client.on('frame', (frame: Buffer) => {
      echoes.push(frame.toString());
      if (echoes.length === 3) resolve();
    });
  });
  client.send('a');
  client.send('b');
  client.send(Buffer.from('c'));
  await done;
  assert.deepEqual(received, ['a', 'b', 'c']);
  assert.deepEqual(echoes, ['echo a', 'echo b', 'echo c']);
  await client.close();
  await server.close();
});

test('frames over maxFrameSize are refused before anything is queued', async () => {
  await withServer(
    (frame) => frame,
    async (client) => {
      assert.throws(() => client.send(Buffer.alloc(100)), { code: 'SLUICE_ERR_FRAME_TOO_LARGE' });
      await assert.rejects(client.request(Buffer.alloc(100)), { code: 'SLUICE_ERR_FRAME_TOO_LARGE' });
      assert.equal(client.inFlight, 0);
      assert.equal((await client.request('ok')).toString(), 'ok');
    },
    { maxFrameSize: 64 },
  );
});

test("send honours backpressure: false past highWaterMark, 'drain' later, a hard bound past maxBufferedBytes", async () => {
  let peer!: net.Socket;
  const server = net.createServer((socket) => {
    peer = socket;
    socket.pause();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const client = await FramedConnection.connect({
    port,
    host: '127.0.0.1',
    highWaterMark: 64 * 1024,
    maxBufferedBytes: 16 * 1024 * 1024,
  });
  const frame = Buffer.alloc(8 * 1024, 5);
  let accepted = true;
  let sent = 0;
  while (accepted && sent < 10_000) {
    accepted = client.send(frame);
    sent++;
    if (sent % 16 === 0) await nextTurn();
  }
  assert.equal(accepted, false);
  const drained = new Promise((resolve) => client.once('drain', resolve));
  assert.throws(
    () => {
      for (let index = 0; index < 4096; index++) client.send(frame);
    },
    { code: 'SLUICE_ERR_WRITE_BUFFER_FULL' },
  );
  peer.resume();
  await drained;
  client.destroy();
  server.close();
});

test('close() waits for pending requests, then closes cleanly', async () => {
  const gate = deferred<string>();
  await withServer(
    () => gate.promise,
    async (client) => {
      const reply = client.request('x');
      const closing = client.close();
      await assert.rejects(client.request('y'), { code: 'SLUICE_ERR_CONNECTION_CLOSED' });
      gate.resolve('late but fine');
      assert.equal((await reply).toString(), 'late but fine');
      await closing;
      assert.equal(client.closed, true);
      assert.equal(client.closeError, undefined);
    },
  );
});

test('connect failures reject with SLUICE_ERR_CONNECT; options are validated', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await assert.rejects(
    FramedConnection.connect({ port, host: '127.0.0.1' }),
    (error: { code: string; syscallCode: string }) => {
      assert.equal(error.code, 'SLUICE_ERR_CONNECT');
      assert.equal(error.syscallCode, 'ECONNREFUSED');
      return true;
    },
  );
  await assert.rejects(FramedConnection.connect({ port, host: '127.0.0.1', signal: AbortSignal.abort() }), {
    code: 'SLUICE_ERR_ABORTED',
  });
  assert.throws(() => new FramedConnection(new net.Socket(), { maxInFlight: 0 }), {
    code: 'SLUICE_ERR_INVALID_ARGUMENT',
  });
});

test('a server closes gracefully even when a raw client never ends its side', async () => {
  const server = createFrameServer((frame) => frame, { closeTimeout: 50 });
  const { port } = await server.listen(0);
  const raw = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  raw.on('error', () => {});
  await new Promise<void>((resolve) => raw.once('connect', resolve));
  raw.on('end', () => {}); // half-open: this client never calls end()
  const client = await FramedConnection.connect({ port, host: '127.0.0.1' });
  assert.equal((await client.request('before close')).toString(), 'before close');
  const closed = new Promise((resolve) => client.once('close', resolve));
  await server.close();
  await closed;
  assert.equal(server.connections, 0);
  raw.destroy();
});

test('never more than maxHandlersInFlight async handlers run at once, even for frames read in one chunk', async () => {
  let running = 0;
  let peak = 0;
  const gates: (() => void)[] = [];
  const server = createFrameServer(
    async (frame) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise<void>((resolve) => gates.push(resolve));
      running--;
      return frame;
    },
    { maxHandlersInFlight: 3 },
  );
  const { port } = await server.listen(0);
  const client = await FramedConnection.connect({ port, host: '127.0.0.1' });
  // 20 requests leave in one write, so the server reads them in one chunk.
  const replies = Array.from({ length: 20 }, (_, index) => client.request(`r${index}`));
  let answered = 0;
  while (answered < 20) {
    await nextTurn();
    assert.ok(running <= 3, `${running} handlers running`);
    const gate = gates.shift();
    if (gate) {
      gate();
      answered++;
    }
  }
  assert.deepEqual(
    (await Promise.all(replies)).map((reply) => reply.toString()),
    Array.from({ length: 20 }, (_, index) => `r${index}`),
  );
  assert.equal(peak, 3);
  await client.close();
  await server.close();
});
