import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Coalescer } from '../../src/net/coalescer.js';
import { countSocketWrites, nextTurn, receive, socketPair } from './helpers.js';

test('1000 writes in one turn leave in one batch, in order', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = new Coalescer(client);
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
  assert.equal(writer.stats.batches, 1);
  assert.equal(counts.calls, 1);
  assert.deepEqual(await received, all);
  close();
});

test('an idle write is flushed in the same turn (no timer, no added loop iteration)', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = new Coalescer(client, { scheduling: 'tick' });
  writer.write(Buffer.from('ping'));
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.equal(counts.calls, 1);
  assert.equal((await receive(peer, 4)).toString(), 'ping');
  close();
});

test("scheduling: 'immediate' flushes after the I/O phase, still in one batch", async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = new Coalescer(client, { scheduling: 'immediate' });
  for (let index = 0; index < 10; index++) writer.write(Buffer.from('x'));
  await new Promise<void>((resolve) => process.nextTick(resolve));
  assert.equal(counts.calls, 0);
  await nextTurn();
  assert.equal(counts.calls, 1);
  assert.equal((await receive(peer, 10)).toString(), 'xxxxxxxxxx');
  close();
});

test('a batch past flushBytes leaves at once; large writes go by reference as extra iovecs', async () => {
  const { client, peer, close } = await socketPair();
  const counts = countSocketWrites(client);
  const writer = new Coalescer(client, { flushBytes: 4096, copyLimit: 1024 });
  const small = Buffer.alloc(100, 1);
  const large = Buffer.alloc(2000, 2);
  writer.write(small);
  writer.write(large);
  assert.equal(counts.calls, 0);
  writer.write(large);
  assert.equal(counts.calls, 1, 'flushed synchronously once 4100 bytes were queued');
  assert.equal(counts.buffers, 3, 'the small write was copied, the two large ones were not');
  writer.write(small);
  const received = receive(peer, 4200);
  await nextTurn();
  assert.equal(counts.calls, 2);
  assert.deepEqual(await received, Buffer.concat([small, large, large, small]));
  close();
});

test('reserve/commit writes in place; the sealed bytes are never overwritten', async () => {
  const { client, peer, close } = await socketPair();
  const writer = new Coalescer(client);
  const first = writer.reserve(5);
  first.write('hello');
  writer.commit(5);
  writer.flush();
  const second = writer.reserve(6);
  second.write(' world');
  writer.commit(6);
  assert.equal((await receive(peer, 11)).toString(), 'hello world');
  close();
});

test('honours drain: no writes while the socket is full, one batch when it drains', async () => {
  const { client, peer, close } = await socketPair();
  peer.pause();
  const counts = countSocketWrites(client);
  let drained = 0;
  const writer = new Coalescer(client, { highWaterMark: 256 * 1024, onDrain: () => drained++ });
  const chunk = Buffer.alloc(16 * 1024, 3);
  let accepted = true;
  let written = 0;
  for (let turn = 0; turn < 200 && accepted; turn++) {
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
  assert.equal(counts.calls, callsWhileBlocked, 'nothing written while the socket wants drain');
  const all = receive(peer, written);
  peer.resume();
  const bytes = await all;
  assert.equal(bytes.length, written);
  assert.ok(bytes.every((byte) => byte === 3));
  await nextTurn();
  assert.ok(drained >= 1, 'onDrain was called');
  close();
});

test('slabs are reused only after their writes complete: many turns of mixed sizes arrive intact', async () => {
  const { client, peer, close } = await socketPair();
  // Default sizes: 64 KiB slabs; about 30 KiB per turn, so slabs fill up in the middle of turns.
  const writer = new Coalescer(client);
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
  // Then a tiny turn, then a turn of small frames only (copied into the slab) that fills the slab
  // before the flush threshold: the slab is retired while holding queued bytes.
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
  close();
});
