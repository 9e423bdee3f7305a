import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { BatchWriter } from '../../src/write/index.js';
import { codeOf, GatedSink, tempDir } from './helpers.js';

test("a path is appended to by default and emptied with mode: 'truncate'", async (t) => {
  const file = path.join(tempDir(t), 'log');
  writeFileSync(file, 'old\n');
  const appending = await BatchWriter.open(file);
  appending.write('new\n');
  await appending.close();
  assert.equal(readFileSync(file, 'utf8'), 'old\nnew\n');
  {
    await using truncating = await BatchWriter.open(new URL(`file://${file}`), { mode: 'truncate' });
    truncating.write(Buffer.from('only\n'));
  }
  assert.equal(readFileSync(file, 'utf8'), 'only\n', 'Symbol.asyncDispose flushed and closed');
});

test('open errors have sluice codes', async (t) => {
  const dir = tempDir(t);
  await assert.rejects(
    BatchWriter.open(path.join(dir, 'missing', 'log')),
    codeOf('SLUICE_ERR_FILE_NOT_FOUND'),
  );
  await assert.rejects(BatchWriter.open(dir), codeOf('SLUICE_ERR_NOT_A_FILE'));
  await assert.rejects(BatchWriter.open(-1), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  await assert.rejects(
    BatchWriter.open(path.join(dir, 'x'), { mode: 'append-ish' as 'append' }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
  await assert.rejects(
    BatchWriter.open(path.join(dir, 'x'), { strategy: 'mmap' as 'sync' }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
  await assert.rejects(
    BatchWriter.open(path.join(dir, 'y'), { highWaterMark: 10, maxBufferedBytes: 5 }),
    codeOf('SLUICE_ERR_INVALID_ARGUMENT'),
  );
});

test('an fd given by the caller stays open; strategy auto picks sync for a regular file', async (t) => {
  const file = path.join(tempDir(t), 'log');
  const fd = openSync(file, 'w');
  t.after(() => closeSync(fd));
  const writer = await BatchWriter.open(fd);
  writer.write('abc');
  await writer.sync();
  await writer.close();
  assert.doesNotThrow(() => fstatSync(fd));
  assert.equal(readFileSync(file, 'utf8'), 'abc');
});

test('reserve/commit: in-place encoding, misuse is refused', async () => {
  const sink = new GatedSink();
  const writer = new BatchWriter(sink, { slabSize: 64, debug: false });
  const view = writer.reserve(10);
  assert.equal(view.length, 10);
  assert.throws(() => writer.reserve(1), codeOf('SLUICE_ERR_RESERVATION'));
  assert.throws(() => writer.write('x'), codeOf('SLUICE_ERR_RESERVATION'));
  assert.throws(() => writer.commit(11), codeOf('SLUICE_ERR_RESERVATION'));
  const written = view.write('héllo');
  writer.commit(written);
  assert.throws(() => writer.commit(0), codeOf('SLUICE_ERR_RESERVATION'), 'commit without reserve');
  const flushed = writer.flush();
  sink.complete();
  await flushed;
  assert.equal(Buffer.concat(sink.received).toString(), 'héllo');
  await writer.close();
});

test('a reserved view cannot be used after commit under SLUICE_DEBUG=1', async () => {
  const previous = process.env.SLUICE_DEBUG;
  process.env.SLUICE_DEBUG = '1';
  let writer: BatchWriter;
  try {
    writer = new BatchWriter(new GatedSink());
  } finally {
    if (previous === undefined) delete process.env.SLUICE_DEBUG;
    else process.env.SLUICE_DEBUG = previous;
  }
  const view = writer.reserve(16);
  view.write('committed');
  writer.commit(9);
  assert.equal(view.length, 0, 'detached');
  assert.equal(view.byteLength, 0);
  assert.throws(() => view.writeUInt32LE(1, 0), RangeError, 'writing into it throws');
  assert.throws(() => view.set([1], 0), TypeError);
  assert.throws(() => view.fill(0), TypeError);
  assert.throws(() => view.readUInt8(0), RangeError, 'reading from it throws');
  assert.equal(view.write('late'), 0, 'string writes take nothing');
  const again = writer.reserve(4);
  again.write('!!!!');
  writer.commit(4);
  assert.equal(again.length, 0);
  // the gated sink never completes: look at what the writer would write next instead
  const sink = new GatedSink();
  const checking = new BatchWriter(sink, { debug: true });
  const v = checking.reserve(8);
  v.write('abcdefgh');
  checking.commit(8);
  assert.throws(() => v.fill(0), TypeError);
  const flushed = checking.flush();
  sink.complete();
  await flushed;
  assert.equal(
    Buffer.concat(sink.received).toString(),
    'abcdefgh',
    'later misuse cannot change committed bytes',
  );
  await checking.close();
});

test('data that is neither a string nor bytes is an argument error', async () => {
  const writer = new BatchWriter(new GatedSink());
  assert.throws(() => writer.write(42 as unknown as string), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  await assert.rejects(writer.writeAsync({} as unknown as string), codeOf('SLUICE_ERR_INVALID_ARGUMENT'));
  assert.equal(writer.stats.acceptedBytes, 0);
  await writer.close();
});

test('after close(): every operation has a clear error; close is idempotent', async () => {
  const writer = new BatchWriter(new GatedSink());
  await writer.close();
  await writer.close();
  assert.equal(writer.closed, true);
  assert.throws(() => writer.write('x'), codeOf('SLUICE_ERR_WRITER_CLOSED'));
  assert.throws(() => writer.reserve(1), codeOf('SLUICE_ERR_WRITER_CLOSED'));
  await assert.rejects(writer.writeAsync('x'), codeOf('SLUICE_ERR_WRITER_CLOSED'));
  await assert.rejects(writer.flush(), codeOf('SLUICE_ERR_WRITER_CLOSED'));
  await assert.rejects(writer.sync(), codeOf('SLUICE_ERR_SYNC_UNSUPPORTED'));
});

test('a socket gets every byte in order through its writev path; sync() is refused', async (t) => {
  const received: Buffer[] = [];
  const done = new Promise<void>((resolve) => {
    const server = net.createServer((socket) => {
      socket.on('data', (chunk: Buffer) => received.push(chunk));
      socket.on('end', () => {
        server.close();
        resolve();
      });
    });
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      void send(port);
    });
  });
  const expected: Buffer[] = [];
  let writeCalls = 0;
  async function send(port: number): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    const writer = await BatchWriter.open(socket, {
      autoClose: true,
      slabSize: 4096,
      highWaterMark: 64 * 1024,
    });
    assert.match(writer.target, /^socket 127\.0\.0\.1:\d+$|^socket \(not connected\)$/);
    await assert.rejects(writer.sync(), codeOf('SLUICE_ERR_SYNC_UNSUPPORTED'));
    for (let index = 0; index < 20_000; index++) {
      const frame = Buffer.from(`frame ${index} ${'.'.repeat(index % 50)}\n`);
      expected.push(frame);
      if (!writer.write(frame)) await writer.ready();
    }
    await writer.close();
    writeCalls = writer.stats.writeCalls;
  }
  await done;
  assert.ok(Buffer.concat(received).equals(Buffer.concat(expected)));
  assert.ok(writeCalls > 0 && writeCalls < 20_000 / 10, `coalesced: ${writeCalls} batches for 20000 frames`);
});

test('flushSync() writes everything before returning, also from an exit handler', async (t) => {
  const dir = tempDir(t);
  for (const strategy of ['sync', 'threadpool'] as const) {
    const file = path.join(dir, `log-${strategy}`);
    const writer = await BatchWriter.open(file, { strategy, mode: 'truncate' });
    writer.write('one\n');
    writer.write(Buffer.from('two\n'));
    writer.flushSync();
    assert.equal(readFileSync(file, 'utf8'), 'one\ntwo\n', strategy);
    if (strategy === 'threadpool') {
      writer.write('three\n');
      const flushed = writer.flush(); // a threadpool write is now in flight
      assert.throws(() => writer.flushSync(), codeOf('SLUICE_ERR_FLUSH_SYNC_UNAVAILABLE'));
      await flushed;
    }
    await writer.close();
    assert.throws(() => writer.flushSync(), codeOf('SLUICE_ERR_WRITER_CLOSED'));
  }
  assert.throws(
    () => new BatchWriter(new GatedSink()).flushSync(),
    codeOf('SLUICE_ERR_FLUSH_SYNC_UNAVAILABLE'),
  );

  // the use it exists for: a process that exits with bytes still buffered
  const file = path.join(dir, 'exit.log');
  const module = new URL('../../src/write/index.js', import.meta.url).href;
  const script = `
    const { BatchWriter } = await import(${JSON.stringify(module)});
    const writer = await BatchWriter.open(${JSON.stringify(file)}, { strategy: 'threadpool' });
    process.on('exit', () => writer.flushSync());
    for (let i = 0; i < 1000; i++) writer.write('line ' + i + '\\n');
    process.exit(0);`;
  execFileSync(process.execPath, ['--input-type=module', '-e', script]);
  const lines = readFileSync(file, 'utf8').split('\n');
  assert.equal(lines.length, 1001);
  assert.equal(lines[999], 'line 999');
});

test("a socket someone else filled: the writer waits for 'drain', and bytes stay in order", async (t) => {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    socket.pause(); // let the writer's side fill up first
    setTimeout(() => socket.resume(), 50);
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('end', () => socket.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const other = Buffer.alloc(4 << 20, 0x2e);
  assert.equal(socket.write(other), false, 'the other writer filled the socket buffer');
  const writer = await BatchWriter.open(socket, { autoClose: true });
  writer.write('after the other writer\n');
  await writer.close();
  await new Promise((resolve) => socket.once('close', resolve));
  const all = Buffer.concat(received);
  assert.equal(all.length, other.length + 23);
  assert.equal(all.subarray(other.length).toString(), 'after the other writer\n');
});
