/**
 * The native addon's CRC-32 (`native/crc32-fold.c`, built where a C compiler is and the CPU has a
 * carry-less multiply; CI installs gcc): the buffer CRC must equal an independent implementation
 * (`@node-rs/crc32`, and zlib's) for every short length, any start offset and any running CRC, in
 * both the AVX-512 and the SSE code; `crc32Read` must checksum exactly the bytes `readSync` reads and
 * fail as `fs.read` fails. (sluice/zip's suites without the addon: test/file/native.test.ts.)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { crc32 as referenceCrc32 } from '@node-rs/crc32';
import fc from 'fast-check';
import { crc32Read, nativeCrc32, nativeCrc32Kind } from '../../src/file/native.js';
import { crcOffThread } from '../../src/zip/crc-workers.js';
import { crc32, crc32Implementation } from '../../src/zip/index.js';
import { patternBytes } from '../helpers/files.js';
import { codeOf, openFilesUnder, temporaryDirectory } from './helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const skip = nativeCrc32 === undefined ? 'no native CRC here (addon not built, or no PCLMULQDQ)' : false;
const reference = (data: Uint8Array, previous: number): number => referenceCrc32(data, previous) >>> 0;

test('the addon CRC-32 gives the catalogue check value and is what sluice/zip uses', { skip }, () => {
  assert.equal(nativeCrc32!(Buffer.from('123456789'), 0), 0xcbf43926);
  assert.match(nativeCrc32Kind ?? '', /^(avx512-vpclmulqdq|sse-pclmulqdq)$/);
  assert.equal(crc32Implementation, `sluice-native (${nativeCrc32Kind})`);
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('the addon CRC-32 equals @node-rs/crc32 and zlib for every length to 4 KiB, any offset and running CRC', {
  skip,
}, () => {
  const bytes = randomBytes(4096 + 64);
  for (let length = 0; length <= 4096; length++) {
    const offset = length % 64;
    const data = bytes.subarray(offset, offset + length);
    const previous = (length * 2654435761) >>> 0;
    const want = reference(data, previous);
    assert.equal(nativeCrc32!(data, previous), want, `length ${length}, offset ${offset}`);
    if (length > 0) assert.equal(zlib.crc32(data, previous) >>> 0, want, 'zlib agrees');
  }
  assert.equal(
    nativeCrc32!(new Uint8Array(0), 0x12345678),
    0x12345678,
    'no bytes: the running CRC as it was',
  );
});

test('the addon CRC-32 equals @node-rs/crc32 on random buffers (property)', { skip }, () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 300_000 }),
      fc.integer({ min: 0, max: 63 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      (length, offset, previous) => {
        const data = randomBytes(length + offset).subarray(offset);
        assert.equal(nativeCrc32!(data, previous), reference(data, previous));
      },
    ),
    { numRuns: 200 },
  );
  const big = patternBytes(9 * 1024 * 1024 + 77, 5);
  assert.equal(nativeCrc32!(big, 0), reference(big, 0));
  const split = 3 * 1024 * 1024 + 5;
  assert.equal(nativeCrc32!(big.subarray(split), nativeCrc32!(big.subarray(0, split), 0)), reference(big, 0));
});

test('the SSE code (SLUICE_NATIVE_CRC=sse) gives the same CRCs as the reference', { skip }, () => {
  const script = `
    import { crc32 } from '@node-rs/crc32';
    import { randomBytes } from 'node:crypto';
    import { nativeCrc32, nativeCrc32Kind } from ${JSON.stringify(path.join(root, 'dist/src/file/native.js'))};
    const bytes = randomBytes(3 * 1024 * 1024);
    let checked = 0;
    for (let length = 0; length < 5000; length += 1 + (length >> 6)) {
      for (const offset of [0, 1, 13]) {
        const data = bytes.subarray(offset, offset + length);
        const previous = (length * 40503 + offset) >>> 0;
        if (nativeCrc32(data, previous) !== crc32(data, previous) >>> 0) throw new Error('length ' + length);
        checked++;
      }
    }
    if (nativeCrc32(bytes.subarray(7), 99) !== crc32(bytes.subarray(7), 99) >>> 0) throw new Error('3 MiB');
    console.log(JSON.stringify({ kind: nativeCrc32Kind, checked }));`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: root,
    env: { ...process.env, SLUICE_NATIVE_CRC: 'sse' },
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  const { kind, checked } = JSON.parse(child.stdout) as { kind: string; checked: number };
  assert.equal(kind, 'sse-pclmulqdq');
  assert.ok(checked > 500);
});

test('crc32Read checksums exactly what readSync reads, at any position and length', { skip }, async () => {
  await using tmp = await temporaryDirectory('crc32-read');
  const bytes = patternBytes(3 * 1024 * 1024 + 4321, 3);
  const file = path.join(tmp.dir, 'data.bin');
  writeFileSync(file, bytes);
  const fd = openSync(file, 'r');
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: bytes.length + 100 }),
        fc.integer({ min: 0, max: 2 * 1024 * 1024 }),
        fc.integer({ min: 0, max: 0xffffffff }),
        async (position, length, previous) => {
          const slice = Buffer.alloc(length);
          const read = readSync(fd, slice, 0, length, position);
          const got = await crc32Read!(fd, position, length, previous);
          assert.deepEqual(got, { crc: reference(slice.subarray(0, read), previous), bytes: read });
        },
      ),
      { numRuns: 100 },
    );
  } finally {
    closeSync(fd);
  }
});

test('crc32Read rejects as fs.read does and refuses bad arguments', { skip }, async () => {
  await using tmp = await temporaryDirectory('crc32-read-errors');
  const closed = openSync(tmp.dir, 'r');
  closeSync(closed);
  await assert.rejects(crc32Read!(closed, 0, 10, 0), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'EBADF');
    assert.equal(error.errno, -9);
    assert.equal(error.syscall, 'read');
    return true;
  });
  const directory = openSync(tmp.dir, 'r');
  try {
    await assert.rejects(crc32Read!(directory, 0, 10, 0), { code: 'EISDIR' });
  } finally {
    closeSync(directory);
  }
  const call = crc32Read as unknown as (...args: unknown[]) => Promise<unknown>;
  const refused = { name: 'RangeError', code: 'SLUICE_NATIVE_ARGUMENT' };
  assert.throws(() => call(0, 0, 1), refused);
  assert.throws(() => call(-1, 0, 1, 0), refused);
  assert.throws(() => call(0, -1, 1, 0), refused);
  assert.throws(() => call(0, 0, 0.5, 0), refused);
  assert.throws(() => call(0, 0, 1, 'x'), refused);
  const sync = nativeCrc32 as unknown as (...args: unknown[]) => number;
  assert.throws(() => sync(new Uint16Array(2), 0), refused);
  assert.throws(() => sync('text', 0), refused);
  assert.throws(() => sync(Buffer.alloc(1)), refused);
});

test('crcOffThread: the CRC, size and version of a file; sluice codes for missing files, folders and aborts', async () => {
  await using tmp = await temporaryDirectory('crc-off-thread');
  const bytes = patternBytes(5 * 1024 * 1024 + 99, 8);
  const file = path.join(tmp.dir, 'a.bin');
  writeFileSync(file, bytes);
  const done = await crcOffThread(file, undefined);
  assert.equal(done.crc, reference(bytes, 0));
  assert.equal(done.bytes, bytes.length);
  assert.equal(done.before.size, BigInt(bytes.length));
  assert.deepEqual(done.after, done.before);
  await assert.rejects(
    crcOffThread(path.join(tmp.dir, 'missing'), undefined),
    codeOf('SLUICE_ERR_FILE_NOT_FOUND'),
  );
  await assert.rejects(crcOffThread(tmp.dir, undefined), codeOf('SLUICE_ERR_NOT_A_FILE'));
  await assert.rejects(crcOffThread(file, AbortSignal.abort()), codeOf('SLUICE_ERR_ABORTED'));
  // aborted while it runs: it stops within a chunk, with its file closed before it rejects
  const sparse = path.join(tmp.dir, 'sparse.bin');
  writeFileSync(sparse, '');
  truncateSync(sparse, 512 * 1024 * 1024);
  const controller = new AbortController();
  const running = crcOffThread(sparse, controller.signal);
  setImmediate(() => controller.abort());
  await assert.rejects(running, codeOf('SLUICE_ERR_ABORTED'));
  assert.deepEqual(await openFilesUnder(tmp.dir), []);
});
