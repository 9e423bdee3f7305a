/**
 * How scanTree's walk lists a directory (`src/file/list-directory.ts`): the addon's `listDirectory`
 * must name every entry with the type `readdirSync` gives it, give up past its bound (nothing listed,
 * nothing left open) and fail as `readdirSync` fails; the wrapper must list a directory of any size
 * the same way with and without the addon (this file runs again with SLUICE_NATIVE=0 from
 * test/file/native.test.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, type Dirent, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import {
  compareCodePoints,
  type DirectoryListing,
  listDirectory,
  SYNC_LIST_ENTRIES,
} from '../../src/file/list-directory.js';
import { listDirectory as listNative } from '../../src/file/native.js';
import { openFds, runAsNobody, tempDir } from '../helpers/files.js';

const skipNative = listNative === undefined ? 'the addon is not built or is disabled here' : false;

let dir: string;
let cleanup: () => void;
before(() => {
  ({ dir, cleanup } = tempDir('sluice-list-'));
});
after(() => cleanup());

/** What a Dirent says of an entry: its name and every type predicate. */
type TypedEntry = Pick<
  Dirent,
  | 'name'
  | 'isFile'
  | 'isDirectory'
  | 'isSymbolicLink'
  | 'isFIFO'
  | 'isSocket'
  | 'isCharacterDevice'
  | 'isBlockDevice'
>;

/** An entry as a comparable line: its name and every type predicate. */
function describeEntry(entry: TypedEntry): string {
  const kinds = [
    entry.isFile() && 'file',
    entry.isDirectory() && 'directory',
    entry.isSymbolicLink() && 'link',
    entry.isFIFO() && 'fifo',
    entry.isSocket() && 'socket',
    entry.isCharacterDevice() && 'char',
    entry.isBlockDevice() && 'block',
  ].filter(Boolean);
  return `${entry.name} ${kinds.join(',')}`;
}

function expected(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).map(describeEntry).sort();
}

/** Byte order of the names' UTF-8, as the addon sorts them. */
function byBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** A listing's entries as lines, after checking that they come in name order (UTF-8 bytes). */
function linesInOrder(listing: DirectoryListing): string[] {
  assert.deepEqual(listing.names, [...listing.names].sort(byBytes), 'names in byte order');
  assert.equal(listing.types.length, listing.names.length);
  return listing.names.map((name, index) => describeEntry(entryOf(name, listing.types[index]!))).sort();
}

/** The names a property run may create: odd ones included (dots, spaces, a newline, non-ASCII). */
const nameArbitrary = fc.oneof(
  fc.stringMatching(/^[a-z0-9]{1,12}$/),
  fc.constantFrom(
    '.hidden',
    '..twodots',
    '...',
    'with space',
    'new\nline',
    'été',
    '名前',
    'emoji-🎧',
    '-dash',
  ),
);
const kindArbitrary = fc.constantFrom(
  'file',
  'directory',
  'link-file',
  'link-directory',
  'link-dangling',
  'fifo',
);

/** Makes `name` of `kind` in `folder` (a FIFO with mkfifo(1), which coreutils has). */
function make(folder: string, name: string, kind: string): void {
  const target = path.join(folder, name);
  switch (kind) {
    case 'file':
      writeFileSync(target, name);
      break;
    case 'directory':
      mkdirSync(target);
      break;
    case 'link-file':
      symlinkSync('/etc/hostname', target);
      break;
    case 'link-directory':
      symlinkSync('/tmp', target);
      break;
    case 'link-dangling':
      symlinkSync(path.join(folder, 'nowhere-at-all'), target);
      break;
    case 'fifo':
      execFileSync('mkfifo', [target]);
      break;
  }
}

describe('the addon: listDirectory(path, types)', { skip: skipNative }, () => {
  test('names every entry with the type readdirSync gives it, for random folders', () => {
    let run = 0;
    const fds = openFds();
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(nameArbitrary, kindArbitrary), { selector: ([name]) => name, maxLength: 30 }),
        (entries) => {
          const folder = path.join(dir, `random-${run++}`);
          mkdirSync(folder);
          for (const [name, kind] of entries) make(folder, name, kind);
          const types = new Uint8Array(64);
          const listed = listNative!(folder, types);
          assert.equal(typeof listed, 'string');
          const names = (listed as string).split('/');
          assert.equal(names.pop(), '', 'each name is followed by a slash');
          assert.deepEqual(names, [...names].sort(byBytes), 'in byte order of the names');
          const got = names.map((name, index) => describeEntry(entryOf(name, types[index]!))).sort();
          assert.deepEqual(got, expected(folder));
          rmSync(folder, { recursive: true });
        },
      ),
      { numRuns: 60 },
    );
    assert.equal(openFds(), fds, 'every folder closed');
  });

  test('a Unix socket, an empty folder and a name that is not UTF-8 are listed as readdirSync lists them', async () => {
    const folder = path.join(dir, 'odd');
    mkdirSync(folder);
    mkdirSync(path.join(folder, 'empty'));
    assert.equal(listNative!(path.join(folder, 'empty'), new Uint8Array(4)), '');
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(folder, 'socket'), resolve));
    try {
      // 0xff is never valid UTF-8: both decode it to U+FFFD
      writeFileSync(
        Buffer.concat([Buffer.from(`${folder}/bad-`), Buffer.from([0xff]), Buffer.from('-name')]),
        'x',
      );
      const types = new Uint8Array(8);
      const names = (listNative!(folder, types) as string).split('/').slice(0, -1);
      const got = names.map((name, index) => describeEntry(entryOf(name, types[index]!))).sort();
      assert.deepEqual(got, expected(folder));
      assert.ok(got.some((line) => line.startsWith('socket socket')));
      assert.ok(got.some((line) => line.includes('\ufffd')));
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('gives up past types.length entries: null, nothing left open; exactly types.length are listed', () => {
    const folder = path.join(dir, 'bounded');
    mkdirSync(folder);
    for (let index = 0; index < 100; index++) writeFileSync(path.join(folder, `f${index}`), '');
    const fds = openFds();
    assert.equal(listNative!(folder, new Uint8Array(99)), null);
    assert.equal(listNative!(folder, new Uint8Array(0)), null);
    const listed = listNative!(folder, new Uint8Array(100));
    assert.equal(typeof listed, 'string');
    assert.equal((listed as string).split('/').length - 1, 100);
    assert.equal(openFds(), fds);
  });

  test('fails as readdirSync fails: a negative errno for a missing path, a file, a NUL, a name too long', () => {
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    const types = new Uint8Array(8);
    assert.equal(listNative!(path.join(dir, 'missing'), types), -2); // ENOENT
    assert.equal(listNative!(file, types), -20); // ENOTDIR
    assert.equal(listNative!(`${dir}/x\0y`, types), -2); // open() stops at the NUL: ENOENT as fs says
    assert.equal(listNative!(`/${'x'.repeat(5000)}`, types), -36); // ENAMETOOLONG
  });

  test('a folder it may not read fails with EACCES (checked as nobody: root reads anything)', (t) => {
    const locked = path.join(dir, 'locked');
    mkdirSync(locked);
    chmodSync(locked, 0o000);
    chmodSync(dir, 0o755);
    const moduleUrl = new URL('../../src/file/native.js', import.meta.url).href;
    const script = `import(${JSON.stringify(moduleUrl)}).then((m) => console.log(m.listDirectory ? m.listDirectory(${JSON.stringify(locked)}, new Uint8Array(4)) : 'no addon'))`;
    const child = runAsNobody(script);
    if ('why' in child) {
      t.skip(child.why);
      return;
    }
    if (!/^-?\d+$/.test(child.output)) {
      t.skip(
        `the child could not load the addon as nobody (${child.output}): the checkout is not world-readable`,
      );
      return;
    }
    assert.equal(child.output, '-13'); // EACCES
  });

  test('refuses bad arguments with SLUICE_NATIVE_ARGUMENT', () => {
    const refuse = (call: () => unknown): void => {
      assert.throws(call, (error: NodeJS.ErrnoException) => error.code === 'SLUICE_NATIVE_ARGUMENT');
    };
    const call = listNative as unknown as (...args: unknown[]) => unknown;
    refuse(() => call(dir));
    refuse(() => call(42, new Uint8Array(4)));
    refuse(() => call(dir, new Float64Array(4)));
    refuse(() => call(dir, [1, 2, 3]));
  });
});

/** An entry from a name and a d_type, through the wrapper's own reading (one entry listed alone). */
function entryOf(name: string, type: number): TypedEntry {
  const is = (value: number) => () => type === value;
  return {
    name,
    isFIFO: is(1),
    isCharacterDevice: is(2),
    isDirectory: is(4),
    isBlockDevice: is(6),
    isFile: is(8),
    isSymbolicLink: is(10),
    isSocket: is(12),
  };
}

describe("listDirectory (the walk's listing, with the addon or without)", () => {
  test('a small folder: the entries readdirSync gives, with their types', async () => {
    const folder = path.join(dir, 'small');
    mkdirSync(folder);
    for (const [name, kind] of [
      ['a', 'file'],
      ['b', 'directory'],
      ['c', 'link-file'],
      ['d', 'link-dangling'],
      ['e', 'fifo'],
      ['.f', 'file'],
    ]) {
      make(folder, name!, kind!);
    }
    const got = linesInOrder(await listDirectory(folder));
    assert.deepEqual(got, expected(folder));
  });

  test(`a folder of more than ${SYNC_LIST_ENTRIES} entries is listed whole (on the threadpool)`, async () => {
    const folder = path.join(dir, 'large');
    mkdirSync(folder);
    const count = SYNC_LIST_ENTRIES + 3;
    for (let index = 0; index < count; index++) writeFileSync(path.join(folder, `file-${index}`), '');
    mkdirSync(path.join(folder, 'sub'));
    const fds = openFds();
    const got = linesInOrder(await listDirectory(folder));
    assert.equal(got.length, count + 1);
    assert.deepEqual(got, expected(folder));
    assert.equal(openFds(), fds);
  });

  test('names come in code point order, as their UTF-8 bytes sort (astral characters after U+FFFF)', async () => {
    const folder = path.join(dir, 'order');
    mkdirSync(folder);
    // '\uff5e' sorts before '🎧' by code point and by bytes, after it by UTF-16 code unit
    const names = ['b', 'B', 'a.txt', 'a', 'ab', '\uff5e', '🎧', 'é', 'z'];
    for (const name of names) writeFileSync(path.join(folder, name), '');
    const listing = await listDirectory(folder);
    assert.deepEqual(listing.names, [...names].sort(byBytes));
    assert.ok(listing.names.indexOf('\uff5e') < listing.names.indexOf('🎧'));
  });

  test('rejects as readdir does: code, syscall and path', async () => {
    const file = path.join(dir, 'not-a-folder');
    writeFileSync(file, '');
    for (const [target, code] of [
      [path.join(dir, 'missing-folder'), 'ENOENT'],
      [file, 'ENOTDIR'],
    ] as const) {
      await assert.rejects(listDirectory(target), (error: NodeJS.ErrnoException) => {
        assert.equal(error.code, code);
        assert.equal(error.syscall, 'scandir');
        assert.equal(error.path, target);
        return true;
      });
    }
  });
});

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('compareCodePoints (the order without the addon)', () => {
  test('orders any two strings as their UTF-8 bytes compare', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        // lone surrogates have no UTF-8: Buffer.from would make them U+FFFD
        fc.pre(!LONE_SURROGATE.test(a) && !LONE_SURROGATE.test(b));
        assert.equal(Math.sign(compareCodePoints(a, b)), Math.sign(byBytes(a, b)));
      }),
      { numRuns: 2000 },
    );
    assert.ok(compareCodePoints('\uffff', '\u{10000}') < 0);
    assert.ok(compareCodePoints('a', 'ab') < 0);
    assert.equal(compareCodePoints('même', 'même'), 0);
  });
});
