/**
 * The optional native addon (`native/sluice-native.c`): built where a C compiler and Node's headers
 * are (CI installs gcc), and then `readPopulated` must read exactly what `readSync` reads, fail as
 * `fs.read` fails, and refuse bad arguments. `readAll` must return the same bytes with and
 * without it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { readPopulated } from '../../src/file/native.js';
import { patternBytes, tempDir, writeFile } from '../helpers/files.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
// The build script says whether it could build here (a C compiler and Node's headers, on Linux).
const probe = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-native.mjs'), '--probe'], {
  encoding: 'utf8',
});
const buildable = probe.status === 0;
const enabled = process.env.SLUICE_NATIVE !== '0' && process.env.SLUICE_SKIP_NATIVE !== '1';
const skip = readPopulated === undefined ? 'the addon is not built here (no C compiler or headers)' : false;

let dir: string;
let cleanup: () => void;
let file: string;
let bytes: Buffer;
before(() => {
  ({ dir, cleanup } = tempDir());
  bytes = patternBytes(3 * 1024 * 1024 + 4321, 7);
  file = writeFile(dir, 'data.bin', bytes);
});
after(() => cleanup());

test('the addon is built wherever a C compiler and Node headers are (npm install runs the build)', (t) => {
  if (!buildable || !enabled) {
    t.skip(`not built here: ${enabled ? probe.stdout.trim() : 'SLUICE_NATIVE=0 or SLUICE_SKIP_NATIVE=1'}`);
    return;
  }
  assert.ok(existsSync(path.join(root, 'build', 'sluice-native.node')), 'build/sluice-native.node');
  assert.equal(typeof readPopulated, 'function');
});

test('readPopulated reads exactly what readSync reads, at any offset, length and position', {
  skip,
}, async () => {
  const fd = openSync(file, 'r');
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: bytes.length + 100 }),
        fc.integer({ min: 0, max: 1024 * 1024 }),
        fc.integer({ min: 0, max: 5000 }),
        async (position, length, offset) => {
          const got = Buffer.alloc(offset + length + 7, 0xaa);
          const want = Buffer.alloc(offset + length + 7, 0xaa);
          const read = await readPopulated!(fd, got, offset, length, position);
          let expected = 0;
          while (expected < length) {
            const n = readSync(fd, want, offset + expected, length - expected, position + expected);
            if (n === 0) break;
            expected += n;
          }
          assert.equal(read, expected);
          assert.ok(got.equals(want), 'same bytes, nothing written outside the range');
        },
      ),
      { numRuns: 200 },
    );
  } finally {
    closeSync(fd);
  }
});

test('readPopulated fills a fresh multi-MiB buffer and a view with a byteOffset', { skip }, async () => {
  const fd = openSync(file, 'r');
  try {
    const fresh = Buffer.allocUnsafeSlow(bytes.length);
    assert.equal(await readPopulated!(fd, fresh, 0, bytes.length, 0), bytes.length);
    assert.ok(fresh.equals(bytes));
    const backing = new Uint8Array(10_000).fill(1);
    const view = backing.subarray(100, 9_000);
    assert.equal(await readPopulated!(fd, view, 50, 1000, 200), 1000);
    assert.deepEqual(backing.subarray(150, 1150), new Uint8Array(bytes.subarray(200, 1200)));
    assert.equal(backing[149], 1);
    assert.equal(backing[1150], 1);
  } finally {
    closeSync(fd);
  }
});

test('readPopulated rejects as fs.read does: code, errno, syscall', { skip }, async () => {
  const closed = openSync(file, 'r');
  closeSync(closed);
  await assert.rejects(readPopulated!(closed, Buffer.alloc(10), 0, 10, 0), (error: NodeJS.ErrnoException) => {
    assert.equal(error.code, 'EBADF');
    assert.equal(error.errno, -9);
    assert.equal(error.syscall, 'read');
    return true;
  });
  const directory = openSync(dir, 'r');
  try {
    await assert.rejects(readPopulated!(directory, Buffer.alloc(10), 0, 10, 0), { code: 'EISDIR' });
  } finally {
    closeSync(directory);
  }
});

test('readPopulated refuses bad arguments before any read', { skip }, () => {
  const call = readPopulated as unknown as (...args: unknown[]) => Promise<number>;
  const refused = { name: 'RangeError', code: 'SLUICE_NATIVE_ARGUMENT' };
  assert.throws(() => call(0, Buffer.alloc(1), 0, 1), refused);
  assert.throws(() => call(-1, Buffer.alloc(1), 0, 1, 0), refused);
  assert.throws(() => call(0, new Uint16Array(4), 0, 1, 0), refused);
  assert.throws(() => call(0, 'text', 0, 1, 0), refused);
  assert.throws(() => call(0, Buffer.alloc(4), 2, 3, 0), refused);
  assert.throws(() => call(0, Buffer.alloc(4), 0.5, 1, 0), refused);
  assert.throws(() => call(0, Buffer.alloc(4), 0, 1, -1), refused);
});

test('readAll returns the same bytes with the addon and without it (SLUICE_NATIVE=0)', async () => {
  const big = patternBytes(17 * 1024 * 1024 + 3, 11);
  const bigFile = writeFile(dir, 'big.bin', big);
  const script = `
    import { createHash } from 'node:crypto';
    import { readAll } from ${JSON.stringify(path.join(root, 'dist/src/file/index.js'))};
    import { readPopulated } from ${JSON.stringify(path.join(root, 'dist/src/file/native.js'))};
    const bytes = await readAll(${JSON.stringify(bigFile)});
    console.log(JSON.stringify({ native: readPopulated !== undefined, length: bytes.length,
      sha1: createHash('sha1').update(bytes).digest('hex') }));`;
  const run = (env: Record<string, string>) => {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      encoding: 'utf8',
    });
    assert.equal(child.status, 0, child.stderr);
    return JSON.parse(child.stdout) as { native: boolean; length: number; sha1: string };
  };
  const withAddon = run({});
  const without = run({ SLUICE_NATIVE: '0' });
  assert.equal(without.native, false);
  assert.equal(withAddon.native, readPopulated !== undefined);
  assert.equal(withAddon.length, big.length);
  assert.equal(withAddon.sha1, createHash('sha1').update(big).digest('hex'));
  assert.deepEqual(withAddon, { ...without, native: withAddon.native });
});
