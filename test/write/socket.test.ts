import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchWriter, type BatchWriterOptions, createStreamSink } from '../../src/write/index.js';
import { countSocketWrites, nextTurn, receive, socketPair } from '../net/helpers.js';

// BatchWriter over a socket with the settings sluice/net's FramedConnection uses: flush at the end
// of the turn (process.nextTick), a byte threshold, large writes by reference.
const transport = (socket: import('node:net').Socket, options: BatchWriterOptions = {}): BatchWriter =>
  new BatchWriter(createStreamSink(socket), {
    scheduling: 'tick',
    flushBytes: 64 * 1024,
    referenceBytes: 1024,
    ...options,
  });

test('1000 writes in one turn leave in one batch, in order', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = transport(client);
  const expected: Buffer[] = [];
  for (let index = 0; index < 1000; index++) {
    const message = Buffer.from(`message ${index};`);
    expected.push(message);
    assert.equal(writer.write(message), true);
  }
  assert.equal(counts.calls, 0, 'nothing is written before the turn ends');
  const all = Buffer.concat(expected);
  const received = receive(peer, all.length);
  await nextTurn();
  assert.equal(writer.stats.writeCalls, 1);
  assert.equal(counts.calls, 1);
  assert.deepEqual(await received, all);
  close();
});

test("scheduling: 'tick' writes an idle write in the same turn (no timer, no added loop iteration)", async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = transport(client);
  writer.write(Buffer.from('ping'));
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.equal(counts.calls, 1);
  assert.equal((await receive(peer, 4)).toString(), 'ping');
  close();
});

test("scheduling: 'immediate' writes after the I/O phase, still in one batch", async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = transport(client, { scheduling: 'immediate' });
  for (let index = 0; index < 10; index++) writer.write('x');
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.equal(counts.calls, 0);
  await nextTurn();
  assert.equal(counts.calls, 1);
  assert.equal((await receive(peer, 10)).toString(), 'xxxxxxxxxx');
  close();
});

test('cork() holds the end-of-turn write; the last uncork() writes everything at once, in one batch', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = transport(client);
  writer.cork();
  writer.cork();
  writer.write('a');
  writer.write(Buffer.from('b'));
  writer.uncork(); // still corked once
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.equal(counts.calls, 0, 'no end-of-turn write while corked');
  writer.write('c');
  writer.uncork();
  assert.equal(counts.calls, 1, 'written synchronously by the last uncork()');
  writer.uncork(); // unbalanced: ignored
  assert.equal((await receive(peer, 3)).toString(), 'abc');
  assert.equal(writer.stats.writeCalls, 1);
  // Uncorked again: a write goes at the end of the turn as before.
  writer.write('d');
  assert.equal(counts.calls, 1);
  const received = receive(peer, 1);
  await nextTurn();
  assert.equal((await received).toString(), 'd');
  assert.equal(counts.calls, 2);
  close();
});

test('while corked, flushBytes still starts a write early and flush() writes at once', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = transport(client, { flushBytes: 1000 });
  writer.cork();
  writer.write(Buffer.alloc(600, 1));
  assert.equal(counts.calls, 0);
  writer.write(Buffer.alloc(600, 2));
  assert.equal(counts.calls, 1, 'past flushBytes');
  writer.write(Buffer.alloc(10, 3));
  await writer.flush();
  assert.equal(counts.calls, 2, 'flush() does not wait for uncork()');
  writer.uncork();
  assert.equal(counts.calls, 2, 'nothing left for uncork() to write');
  const bytes = await receive(peer, 1210);
  assert.deepEqual(bytes, Buffer.concat([Buffer.alloc(600, 1), Buffer.alloc(600, 2), Buffer.alloc(10, 3)]));
  close();
});

test('a batch past flushBytes leaves at once; large writes go by reference as extra iovecs', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = transport(client, { flushBytes: 4096 });
  const small = Buffer.alloc(100, 1);
  const large = Buffer.alloc(2000, 2);
  writer.write(small);
  writer.write(large);
  assert.equal(counts.calls, 0);
  writer.write(large);
  assert.equal(counts.calls, 1, 'written synchronously once 4100 bytes were queued');
  assert.equal(counts.buffers, 3, 'the small write was copied, the two large ones were not');
  writer.write(small);
  const received = receive(peer, 4200);
  await nextTurn();
  assert.equal(counts.calls, 2);
  assert.deepEqual(await received, Buffer.concat([small, large, large, small]));
  close();
});

test('reserve/commit writes in place; the written bytes are never overwritten', async () => {
  const { client, peer, close } = await socketPair();
  const writer = transport(client);
  const first = writer.reserve(5);
  first.write('hello');
  writer.commit(5);
  await writer.flush();
  const second = writer.reserve(6);
  second.write(' world');
  writer.commit(6);
  assert.equal((await receive(peer, 11)).toString(), 'hello world');
  close();
});

test('honours the socket: nothing more is written while a batch waits for it, then one batch; onDrain', async () => {
  const { client, peer, close } = await socketPair();
  peer.pause();
  const counts = countSocketWrites(client);
  let drained = 0;
  const writer = transport(client, { highWaterMark: 256 * 1024, onDrain: () => drained++ });
  const chunk = Buffer.alloc(16 * 1024, 3);
  let accepted = true;
  let written = 0;
  for (let turn = 0; turn < 2000 && accepted; turn++) {
    for (let index = 0; index < 8 && accepted; index++) {
      accepted = writer.write(chunk);
      written += chunk.length;
    }
    await nextTurn();
  }
  assert.equal(accepted, false, 'write returned false past the high-water mark');
  const callsWhileBlocked = counts.calls;
  for (let index = 0; index < 4; index++) writer.write(chunk);
  written += 4 * chunk.length;
  await nextTurn();
  assert.equal(counts.calls, callsWhileBlocked, 'nothing written while the socket holds a batch');
  const all = receive(peer, written);
  peer.resume();
  const bytes = await all;
  assert.equal(bytes.length, written);
  assert.ok(bytes.every((byte) => byte === 3));
  await nextTurn();
  assert.equal(drained, 1, 'onDrain was called once, when the buffered bytes fell below the mark');
  close();
});

test('slabs are reused only after their writes complete: many turns of mixed sizes arrive intact', async () => {
  const { client, peer, close } = await socketPair();
  // 4 KiB slabs: they fill up in the middle of turns, split by references, while writes are in flight.
  const writer = transport(client, { slabSize: 4096 });
  let seed = 7;
  const random = (limit: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % limit;
  };
  const turns = Array.from({ length: 60 }, (_, turn) =>
    Array.from({ length: 40 }, (_, index) =>
      Buffer.alloc(random(10) === 0 ? 1024 + random(3000) : 1 + random(1000), (turn * 40 + index) & 0xff),
    ),
  );
  for (let round = 0; round < 10; round++) {
    turns.push([Buffer.alloc(100, round)]);
    turns.push(
      Array.from({ length: 150 }, (_, index) => Buffer.alloc(1 + random(1000), (round + index) & 0xff)),
    );
  }
  const expected = Buffer.concat(turns.flat());
  const received = receive(peer, expected.length);
  for (const [turn, messages] of turns.entries()) {
    if (turn === 20) peer.pause(); // writes stay in flight for a while: their slabs must not be reused
    if (turn === 40) peer.resume();
    for (const bytes of messages) {
      if (random(2) === 0) writer.write(bytes);
      else {
        writer.reserve(bytes.length).set(bytes);
        writer.commit(bytes.length);
      }
    }
    await nextTurn();
  }
  assert.deepEqual(await received, expected);
  await writer.flush();
  assert.equal(writer.stats.bufferedBytes, 0);
  close();
});

test('a writer idle after a burst keeps at most 4 free slabs, not the burst', async () => {
  const { client, peer, close } = await socketPair();
  peer.pause();
  const writer = transport(client, {
    slabSize: 16 * 1024,
    highWaterMark: 64 * 1024 * 1024,
    maxBufferedBytes: 64 * 1024 * 1024,
  });
  const chunk = Buffer.alloc(1000, 7);
  let sent = 0;
  // the peer does not read: once the kernel's buffers are full, the writer holds the burst (copied)
  for (let turn = 0; turn < 500 && writer.bufferedBytes < 2 * 1024 * 1024; turn++) {
    for (let index = 0; index < 256; index++) writer.write(chunk);
    sent += 256 * chunk.length;
    await nextTurn();
  }
  assert.ok(writer.stats.heldBytes >= 2 * 1024 * 1024, 'the burst is held while the peer does not read');
  const received = receive(peer, sent);
  peer.resume();
  await writer.flush();
  assert.equal((await received).length, sent);
  // trims are at most a second apart: if the last one was sooner, an (unref'd) timer does it
  const deadline = Date.now() + 3000;
  while (writer.stats.heldBytes > 5 * 16 * 1024 && Date.now() < deadline) await sleep(20);
  assert.ok(writer.stats.heldBytes <= 5 * 16 * 1024, `held ${writer.stats.heldBytes} bytes after the burst`);
  close();
});
