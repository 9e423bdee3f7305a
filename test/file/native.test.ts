/**
 * The optional native addon (`native/sluice-native.c`): built where a C compiler and Node's headers
 * are (CI installs gcc), and then `readPopulated` must read exactly what `readSync` reads, fail as
 * `fs.read` fails, and refuse bad arguments; `readFiles` must read each file whole as `readFileSync`
 * does, report what is not a readable regular file, and stop where its contract says. `readAll`,
 * scanTree and sluice/zip must give the same results with and without it (their suites run again
 * with SLUICE_NATIVE=0). Its CRC-32: test/zip/crc32-native.test.ts.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  READ_FILES_CALLS,
  READ_FILES_SLOTS,
  ReadFilesOutcome,
  readFiles,
  readPopulated,
} from '../../src/file/native.js';
import { openFds, patternBytes, tempDir, writeFile } from '../helpers/files.js';

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

const skipBatch = readFiles === undefined ? 'the addon is not built here (no C compiler or headers)' : false;

test('readFiles reads each file whole, in order, with its fstat; reports the rest; stops where it must', {
  skip: skipBatch,
}, () => {
  const root = path.join(dir, 'batch');
  mkdirSync(root);
  mkdirSync(path.join(root, 'folder'));
  const fifo = path.join(root, 'fifo');
  const mkfifo = spawnSync('mkfifo', [fifo]);
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 70_000 }), fc.constantFrom(-1, -2, -3)), {
        minLength: 1,
        maxLength: 30,
      }),
      fc.integer({ min: 1, max: 200_000 }),
      (kinds, capacity) => {
        // a size: a file of that many bytes; -1 a missing path; -2 a folder; -3 a FIFO (or a folder)
        const paths = kinds.map((kind, index) => {
          if (kind === -1) return path.join(root, `missing-${index}`);
          if (kind === -2 || (kind === -3 && mkfifo.status !== 0)) return path.join(root, 'folder');
          if (kind === -3) return fifo;
          return writeFile(root, `f${index}.bin`, patternBytes(kind, index));
        });
        const buffer = new Uint8Array(capacity);
        const outcomes = new Float64Array(paths.length * READ_FILES_SLOTS);
        let from = 0;
        while (from < paths.length) {
          let used = 0;
          const handled = readFiles!(paths, from, buffer, outcomes);
          assert.ok(handled >= 1, 'every call handles at least one path');
          for (let k = 0; k < handled; k++) {
            const file = paths[from + k]!;
            const slot = (index: number): number => outcomes[k * READ_FILES_SLOTS + index]!;
            const kind = kinds[from + k]!;
            if (kind === -1) {
              assert.equal(slot(0), ReadFilesOutcome.FAILED);
              assert.equal(slot(1), 2, 'ENOENT');
              assert.equal(READ_FILES_CALLS[slot(2)], 'open');
              continue;
            }
            const stats = statSync(file);
            assert.deepEqual(
              [slot(3), slot(4), slot(5), slot(6)],
              [stats.mtimeMs, stats.dev, stats.ino, stats.mode],
              'the fstat of the file opened',
            );
            if (kind < 0) {
              assert.equal(slot(0), ReadFilesOutcome.NOT_A_FILE, file);
            } else if (kind > capacity) {
              assert.equal(slot(0), ReadFilesOutcome.TOO_BIG);
              assert.equal(k, handled - 1, 'nothing after a file too big for the buffer');
            } else {
              assert.equal(slot(0), ReadFilesOutcome.WHOLE);
              assert.equal(slot(1), used, 'right after the file before it');
              assert.equal(slot(2), kind);
              assert.deepEqual(
                buffer.subarray(used, used + kind),
                new Uint8Array(patternBytes(kind, from + k)),
              );
              used += kind;
            }
          }
          const next = kinds[from + handled];
          if (next !== undefined && outcomes.length >= paths.length * READ_FILES_SLOTS) {
            const stoppedForRoom = next >= 0 && next <= capacity && next > capacity - used;
            const afterTooBig = kinds[from + handled - 1]! > capacity;
            assert.ok(stoppedForRoom || afterTooBig, `stopped early at ${from + handled} without a reason`);
          }
          from += handled;
        }
      },
    ),
    { numRuns: 60 },
  );
});

test('readFiles: a path too long fails as open would; from and the outcomes bound a call; bad arguments refused', {
  skip: skipBatch,
}, () => {
  const outcomes = new Float64Array(READ_FILES_SLOTS * 2);
  const long = `/${'x'.repeat(5000)}`;
  assert.equal(readFiles!([long, file], 0, new Uint8Array(8 * 1024 * 1024), outcomes), 2);
  assert.equal(outcomes[0], ReadFilesOutcome.FAILED);
  assert.equal(outcomes[1], 36, 'ENAMETOOLONG');
  assert.equal(outcomes[READ_FILES_SLOTS], ReadFilesOutcome.WHOLE);
  assert.equal(outcomes[READ_FILES_SLOTS + 2], bytes.length);
  // from: the paths before it are not read; outcomes sized for one path: one handled
  assert.equal(
    readFiles!([long, file, file], 1, new Uint8Array(8 * 1024 * 1024), outcomes.subarray(0, 7)),
    1,
  );
  const call = readFiles as unknown as (...args: unknown[]) => number;
  const refused = { name: 'RangeError', code: 'SLUICE_NATIVE_ARGUMENT' };
  assert.throws(() => call([file], 0, new Uint8Array(1)), refused);
  assert.throws(() => call(file, 0, new Uint8Array(1), outcomes), refused);
  assert.throws(() => call([file, 7], 1, new Uint8Array(1), outcomes), refused);
  assert.throws(() => call([file], 2, new Uint8Array(1), outcomes), refused);
  assert.throws(() => call([file], 0, new Uint16Array(1), outcomes), refused);
  assert.throws(() => call([file], 0, new Uint8Array(1), new Float32Array(7)), refused);
});

test('readFiles opens files by name in their folder: across folders and back, relative paths, a folder missing or a file in the way fail as open would', {
  skip: skipBatch,
}, () => {
  const base = path.join(dir, 'folders');
  const folders = ['a', 'b', path.join('a', 'c'), 'd/'];
  for (const folder of folders) mkdirSync(path.join(base, folder), { recursive: true });
  const names = ['x', 'y', 'z'];
  const contents = new Map<string, Buffer>();
  for (const folder of folders)
    for (const name of names) {
      const file = path.join(base, folder, name);
      contents.set(file, writeFileBytes(file, contents.size));
    }
  const notAFolder = path.join(base, 'a', 'x', 'y');
  const missingFolder = path.join(base, 'nowhere', 'x');
  // the process's working folder for relative paths: readFiles resolves them as open(2) does
  const relative = path.relative(process.cwd(), path.join(base, 'b', 'y'));
  const fdsBefore = openFds();
  fc.assert(
    fc.property(
      fc.array(
        fc.oneof(
          fc.constantFrom(...contents.keys()),
          fc.constantFrom(notAFolder, missingFolder, relative, `${path.join(base, 'd')}//x`),
        ),
        { minLength: 1, maxLength: 40 },
      ),
      (paths) => {
        const outcomes = new Float64Array(paths.length * READ_FILES_SLOTS);
        const buffer = new Uint8Array(1024 * 1024);
        assert.equal(readFiles!(paths, 0, buffer, outcomes), paths.length);
        paths.forEach((file, k) => {
          const slot = (index: number): number => outcomes[k * READ_FILES_SLOTS + index]!;
          if (file === notAFolder || file === missingFolder) {
            assert.equal(slot(0), ReadFilesOutcome.FAILED, file);
            assert.equal(slot(1), file === notAFolder ? 20 : 2, 'ENOTDIR or ENOENT, as open says');
            assert.equal(READ_FILES_CALLS[slot(2)], 'open');
            return;
          }
          assert.equal(slot(0), ReadFilesOutcome.WHOLE, file);
          assert.equal(slot(5), statSync(file).ino, 'the file named, not a namesake in another folder');
          const expected = contents.get(path.resolve(file))!;
          assert.deepEqual(Buffer.from(buffer.subarray(slot(1), slot(1) + slot(2))), expected, file);
        });
      },
    ),
    { numRuns: 100 },
  );
  assert.equal(openFds(), fdsBefore, 'every file and folder closed when each call returned');
});

/** Writes bytes that differ per `seed` (so that namesakes in two folders differ); returns them. */
function writeFileBytes(file: string, seed: number): Buffer {
  const bytes = Buffer.from(patternBytes(100 + seed, seed));
  writeFileSync(file, bytes);
  return bytes;
}

test('scanTree, its listing, readAll and sluice/zip suites pass without the addon (SLUICE_NATIVE=0)', {
  skip: readPopulated === undefined ? 'without the addon, the suites themselves run that way' : false,
}, () => {
  // without NODE_TEST_CONTEXT, the child runs its files as a test run of its own (TAP on stdout)
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const suites = [
    'file/scan.test.js',
    'file/list-directory.test.js',
    'file/read-all.test.js',
    'zip/deferred.test.js',
    'zip/plan.test.js',
  ];
  const child = spawnSync(
    process.execPath,
    ['--test', ...suites.map((suite) => path.join(root, 'dist/test', suite))],
    { cwd: root, env: { ...env, SLUICE_NATIVE: '0' }, encoding: 'utf8', timeout: 180_000 },
  );
  assert.equal(child.status, 0, child.stdout.slice(-3000));
  assert.match(child.stdout, /# fail 0/);
});
