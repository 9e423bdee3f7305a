import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { WriteFailedError } from '../../src/errors.js';
import { BatchWriter } from '../../src/write/index.js';
import { ChaosSink, codeOf, tempDir, turn } from './helpers.js';

/** Asserts a failure with `code`, whose counts add up to every byte accepted. */
function assertFailure(error: unknown, code: string, accepted: number): WriteFailedError {
  assert.ok(error instanceof WriteFailedError, `expected a WriteFailedError, got ${String(error)}`);
  assert.equal(error.code, code);
  assert.equal(error.writtenBytes + error.unwrittenBytes, accepted, 'every accepted byte is accounted for');
  return error;
}

for (const strategy of ['sync', 'threadpool'] as const) {
  test(`a descriptor not open for writing fails with SLUICE_ERR_WRITE_BAD_FD (${strategy})`, async (t) => {
    const file = path.join(tempDir(t), 'read-only');
    writeFileSync(file, 'x');
    const fd = openSync(file, 'r');
    t.after(() => closeSync(fd));
    const errors: unknown[] = [];
    const writer = await BatchWriter.open(fd, { strategy, onError: (error) => errors.push(error) });
    writer.write('hello\n');
    const failure = await writer.flush().then(
      () => assert.fail('flush() resolved'),
      (error: unknown) => error,
    );
    const error = assertFailure(failure, 'SLUICE_ERR_WRITE_BAD_FD', 6);
    assert.equal(error.syscallCode, 'EBADF');
    assert.deepEqual([error.writtenBytes, error.unwrittenBytes], [0, 6]);
    assert.deepEqual(errors, [error], 'onError saw it once');
    assert.throws(
      () => writer.write('more'),
      (thrown: unknown) => thrown === error,
      'later writes throw it',
    );
    await assert.rejects(writer.close(), (thrown: unknown) => thrown === error, 'close() reports it');
    assert.doesNotThrow(() => statSync(file), 'the fd we were given is left open (autoClose false)');
  });
}

test('a full device (/dev/full) fails with SLUICE_ERR_WRITE_NO_SPACE', {
  skip: !existsSync('/dev/full') && 'no /dev/full',
}, async () => {
  const writer = await BatchWriter.open('/dev/full', { strategy: 'sync' });
  // the sync sink writes within write() once flushBytes are pending: the error is thrown right there
  const line = 'x'.repeat(1000);
  let thrown: unknown;
  let accepted = 0;
  try {
    for (let index = 0; index < 1000; index++) {
      writer.write(line);
      accepted += line.length;
    }
  } catch (error) {
    thrown = error;
    accepted += line.length; // the write that triggered the batch was accepted before the batch failed
  }
  const error = assertFailure(thrown, 'SLUICE_ERR_WRITE_NO_SPACE', accepted);
  assert.equal(error.syscallCode, 'ENOSPC');
  assert.equal(error.writtenBytes, 0);
  await assert.rejects(writer.close(), codeOf('SLUICE_ERR_WRITE_NO_SPACE'));
});

test('a full disk (64 KiB tmpfs) fails with SLUICE_ERR_WRITE_NO_SPACE; the file holds exactly writtenBytes', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sluice-write-tmpfs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    rmdirSync(dir);
    t.skip('cannot mount a tmpfs here (needs root); /dev/full covers ENOSPC');
    return;
  }
  t.after(() => {
    execFileSync('umount', [dir]);
    rmdirSync(dir);
  });
  for (const strategy of ['sync', 'threadpool'] as const) {
    const file = path.join(dir, `log-${strategy}`);
    const writer = await BatchWriter.open(file, { strategy, mode: 'truncate', slabSize: 4096 });
    const chunk = Buffer.alloc(10_000);
    let accepted = 0;
    let failure: unknown;
    for (let index = 0; index < 20 && failure === undefined; index++) {
      chunk.fill(index);
      try {
        writer.write(chunk);
        accepted += chunk.length;
        await writer.flush();
      } catch (error) {
        failure = error;
      }
    }
    const error = assertFailure(failure, 'SLUICE_ERR_WRITE_NO_SPACE', accepted);
    assert.ok(error.writtenBytes > 0 && error.writtenBytes <= 64 * 1024, `${error.writtenBytes} written`);
    await assert.rejects(writer.close(), (thrown: unknown) => thrown === error);
    const onDisk = readFileSync(file);
    assert.equal(onDisk.length, error.writtenBytes, 'the file ends where writtenBytes says');
    for (let offset = 0; offset < onDisk.length; offset++) {
      if (onDisk[offset] !== Math.floor(offset / 10_000)) assert.fail(`byte ${offset} is wrong`);
    }
    rmSync(file); // room for the next strategy
  }
});

test('a reset peer fails with SLUICE_ERR_WRITE_PEER_CLOSED and counts the bytes not written', async (t) => {
  // the peer reads the first bytes, then resets the connection (RST)
  const server = net.createServer((socket) => socket.once('data', () => socket.resetAndDestroy()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as net.AddressInfo;
  const socket = net.connect(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.on('error', () => {}); // its owner's listener; the writer reports the error itself
  t.after(() => socket.destroy());
  const writer = await BatchWriter.open(socket, { maxBufferedBytes: 64 << 20 });
  const chunk = Buffer.alloc(64 * 1024, 7);
  let accepted = 0;
  let failure: unknown;
  // keep writing until the reset arrives; bounded by the loop count and by time (the test runner's)
  for (let round = 0; round < 2000 && failure === undefined; round++) {
    try {
      if (!writer.write(chunk)) await writer.ready();
      accepted += chunk.length;
      await turn();
    } catch (error) {
      failure = error;
    }
  }
  if (failure === undefined) failure = await writer.flush().catch((error: unknown) => error);
  const error = assertFailure(failure, 'SLUICE_ERR_WRITE_PEER_CLOSED', accepted);
  assert.ok(['ECONNRESET', 'EPIPE'].includes(error.syscallCode ?? ''), `syscallCode ${error.syscallCode}`);
  await assert.rejects(writer.close(), (thrown: unknown) => thrown === error);
});

test('EAGAIN is retried within the budget, then fails with SLUICE_ERR_WRITE_FAILED', async () => {
  const flaky = new ChaosSink({ seed: 1, eagain: 0.5 });
  const writer = new BatchWriter(flaky.async(), { retryBudgetMs: 10_000 });
  for (let index = 0; index < 100; index++) {
    writer.write(`line ${index}\n`);
    await writer.flush();
  }
  assert.ok(writer.stats.retries > 0);
  await writer.close();
  assert.equal(flaky.bytes.toString().split('\n').length, 101);

  const stuck = new ChaosSink({ seed: 1, eagain: 1 });
  const failing = new BatchWriter(stuck.sync(), { retryBudgetMs: 30 });
  failing.write('never written');
  const error = await failing.flush().catch((thrown: unknown) => thrown);
  assertFailure(error, 'SLUICE_ERR_WRITE_FAILED', 13);
  assert.equal((error as WriteFailedError).syscallCode, 'EAGAIN');
  assert.match((error as Error).message, /EAGAIN for \d+ ms, beyond retryBudgetMs 30/);
  await assert.rejects(failing.close(), codeOf('SLUICE_ERR_WRITE_FAILED'));
});

/** A FIFO in a temp dir, with its read end open (non-blocking) so the write end can be opened. */
function fifo(t: { after(fn: () => void): void }): { path: string; reader: number } {
  const file = path.join(tempDir(t), 'fifo');
  execFileSync('mkfifo', [file]);
  const reader = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  return { path: file, reader };
}

test('a pipe whose reader is gone fails with SLUICE_ERR_WRITE_PEER_CLOSED (EPIPE)', async (t) => {
  const pipe = fifo(t);
  const writer = await BatchWriter.open(pipe.path, { mode: 'truncate' });
  writer.write('first\n');
  await writer.flush();
  closeSync(pipe.reader);
  writer.write('into the void\n');
  const error = await writer.flush().catch((thrown: unknown) => thrown);
  assertFailure(error, 'SLUICE_ERR_WRITE_PEER_CLOSED', 20);
  assert.equal((error as WriteFailedError).syscallCode, 'EPIPE');
  assert.deepEqual(
    [(error as WriteFailedError).writtenBytes, (error as WriteFailedError).unwrittenBytes],
    [6, 14],
  );
  await assert.rejects(writer.close(), (thrown: unknown) => thrown === error);
});

test('a full non-blocking pipe (EAGAIN) is retried until its reader catches up; nothing is lost', async (t) => {
  const pipe = fifo(t);
  t.after(() => closeSync(pipe.reader));
  const fd = openSync(pipe.path, constants.O_WRONLY | constants.O_NONBLOCK);
  const writer = await BatchWriter.open(fd, { autoClose: true });
  const expected = Buffer.alloc(512 * 1024);
  for (let index = 0; index < expected.length; index++) expected[index] = (index * 7) & 0xff;
  writer.write(expected); // more than a pipe holds (64 KiB): the writer meets EAGAIN
  const flushed = writer.flush();
  const received: Buffer[] = [];
  let total = 0;
  const chunk = Buffer.alloc(64 * 1024);
  for (let round = 0; round < 2000 && total < expected.length; round++) {
    await new Promise((resolve) => setTimeout(resolve, round < 5 ? 20 : 1)); // let the pipe fill first
    try {
      const length = readSync(pipe.reader, chunk, 0, chunk.length, null);
      received.push(Buffer.from(chunk.subarray(0, length)));
      total += length;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
  await flushed;
  await writer.close();
  assert.ok(writer.stats.retries > 0, 'EAGAIN was met and retried');
  assert.ok(Buffer.concat(received).equals(expected));
});
