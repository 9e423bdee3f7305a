import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readlinkSync, statSync, symlinkSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SluiceError } from '../../src/errors.js';
import { type ScanFile, type ScanProblem, scanTree } from '../../src/file/index.js';
import { defaultPools } from '../../src/file/pools.js';
import { xorshift32 } from '../../src/internal/xorshift.js';
import { openFds, patternBytes, runAsNobody, tempDir, writeFile } from '../helpers/files.js';

const code = (expected: string) => (error: unknown) => {
  assert.ok(error instanceof SluiceError, `expected a SluiceError, got ${String(error)}`);
  assert.equal(error.code, expected, error.message);
  return true;
};

/** File descriptors of this process (every thread) open on something under `root`. */
function treeFds(root: string): number {
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(root)) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
}

/**
 * The walk as documented, computed here on its own: a folder's regular files in the byte order of
 * their UTF-8 names, then each subfolder the same way, in that order.
 */
function referenceWalk(root: string, relative = ''): string[] {
  const entries = readdirSync(path.join(root, relative), { withFileTypes: true }).sort((a, b) =>
    Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)),
  );
  const join = (name: string): string => (relative === '' ? name : path.join(relative, name));
  return [
    ...entries.filter((entry) => entry.isFile()).map((entry) => join(entry.name)),
    ...entries
      .filter((entry) => entry.isDirectory())
      .flatMap((entry) => referenceWalk(root, join(entry.name))),
  ];
}

function windowsInUse(): number {
  return defaultPools().reduce((sum, pool) => sum + pool.stats().inUse, 0);
}

/**
 * A generated tree: `directories` nested a few levels deep, files of sizes from 0 to ~600 KiB (so
 * readers of every strategy run), each file's bytes derived from its index. Returns path -> bytes.
 */
function makeTree(root: string, fileCount: number): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const nextState = xorshift32(12345);
  const random = (): number => nextState() / 2 ** 32;
  mkdirSync(root, { recursive: true });
  const directories = [root];
  for (let index = 0; index < fileCount; index++) {
    if (index % 7 === 0) {
      const parent = directories[Math.floor(random() * directories.length)]!;
      const child = path.join(parent, `d${index}`);
      mkdirSync(child);
      directories.push(child);
    }
    const directory = directories[Math.floor(random() * directories.length)]!;
    const size =
      index % 50 === 0 ? 300_000 + Math.floor(random() * 300_000) : Math.floor(random() ** 3 * 40_000);
    const file = writeFile(directory, `f${index}.txt`, patternBytes(size, index + 1));
    files.set(file, patternBytes(size, index + 1));
  }
  // an empty directory, visited and listed, holding nothing
  mkdirSync(path.join(root, 'empty'));
  return files;
}

async function readWhole(file: ScanFile): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const window of file.reader) parts.push(Buffer.from(window));
  return Buffer.concat(parts);
}

let dir: string;
let cleanup: () => void;
let expected: Map<string, Buffer>;

before(() => {
  ({ dir, cleanup } = tempDir('sluice-scan-'));
  expected = makeTree(path.join(dir, 'tree'), 300);
});
after(() => cleanup());

describe('scanTree', () => {
  for (const [concurrency, workers] of [
    [1, undefined],
    [4, undefined],
    [32, undefined],
    [4, 0],
    [32, 0],
  ] as const) {
    test(`visits every file exactly once with the right bytes (concurrency ${concurrency}, workers ${workers ?? 'default'})`, async () => {
      const seen = new Map<string, number>();
      const fdsBefore = openFds();
      const summary = await scanTree(
        path.join(dir, 'tree'),
        async (file) => {
          const bytes = await readWhole(file);
          assert.equal(file.size, bytes.length);
          assert.equal(file.relativePath, path.relative(path.join(dir, 'tree'), file.path));
          const want = expected.get(file.path);
          assert.ok(want !== undefined, `unexpected file ${file.path}`);
          assert.ok(want.equals(bytes), `wrong bytes for ${file.path}`);
          seen.set(file.path, (seen.get(file.path) ?? 0) + 1);
        },
        workers === undefined ? { concurrency } : { concurrency, workers },
      );
      assert.equal(seen.size, expected.size);
      for (const [file, count] of seen) assert.equal(count, 1, file);
      assert.equal(summary.files, expected.size);
      assert.equal(
        summary.bytes,
        [...expected.values()].reduce((sum, bytes) => sum + bytes.length, 0),
      );
      assert.equal(summary.directories, 1 + Math.ceil(300 / 7) + 1);
      assert.deepEqual(summary.problems, []);
      assert.equal(openFds(), fdsBefore, 'every file closed');
      assert.equal(windowsInUse(), 0, 'every window returned');
    });
  }

  test('at concurrency 1 the visit order is the sorted walk, the same on every run', async () => {
    const orders: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const order: string[] = [];
      await scanTree(path.join(dir, 'tree'), (file) => order.push(file.relativePath), { concurrency: 1 });
      orders.push(order);
    }
    assert.deepEqual(orders[0], orders[1]);
    assert.deepEqual(orders[0], referenceWalk(path.join(dir, 'tree')));
  });

  test("the walk: a folder's files in code point order of their names, then its folders, depth first", async () => {
    // names whose UTF-16 order differs from their code point order (U+FF5E against an emoji),
    // upper case before lower, a name that begins another, dots and spaces
    const root = path.join(dir, 'order');
    const names = ['b', 'B', 'a.txt', 'a', 'ab', '\uff5e', '🎧', 'é', 'with space', '.hidden'];
    for (const folder of ['', 'sub', 'sub/🎧', 'Sub', '\uff5e']) {
      mkdirSync(path.join(root, folder), { recursive: true });
      for (const name of names) {
        const file = path.join(root, folder, `${name}.f`);
        writeFile(path.dirname(file), path.basename(file), Buffer.from(name));
      }
    }
    const expected = referenceWalk(root);
    assert.equal(expected.length, 5 * names.length);
    for (const workers of [0, 1, 2]) {
      const order: string[] = [];
      await scanTree(root, (file) => void order.push(file.relativePath), { concurrency: 1, workers });
      assert.deepEqual(order, expected, `workers: ${workers}`);
    }
    const results: string[] = [];
    await scanTree(root, {
      module: new URL('../helpers/scan-visitors.js', import.meta.url),
      export: 'relativePath',
      onResult: (result) => void results.push(String(result)),
    });
    assert.deepEqual(results, expected, 'onResult in walk order');
  });

  test('never has more than `concurrency` files visited, nor more files open than visits + workers', async () => {
    const root = path.join(dir, 'tree');
    for (const [concurrency, workers] of [
      [1, 1],
      [3, 2],
      [16, 0],
      [16, 4],
    ] as const) {
      let open = 0;
      let maxOpen = 0;
      let maxFds = 0;
      await scanTree(
        root,
        async (file) => {
          open++;
          maxOpen = Math.max(maxOpen, open);
          maxFds = Math.max(maxFds, treeFds(root));
          await file.reader.next();
          // hold the visit a little so that others start meanwhile (the bound is what is tested)
          await new Promise((resolve) => setTimeout(resolve, 5));
          maxFds = Math.max(maxFds, treeFds(root));
          open--;
        },
        { concurrency, workers },
      );
      assert.ok(maxOpen <= concurrency, `concurrency ${concurrency} exceeded: ${maxOpen} visits at once`);
      if (concurrency > 1) assert.ok(maxOpen > 1, `visits ran one at a time at concurrency ${concurrency}`);
      // visits, plus one file per worker thread, plus at most 4 directories being listed
      assert.ok(
        maxFds <= concurrency + workers + 4,
        `${maxFds} fds in the tree open at concurrency ${concurrency}, ${workers} workers`,
      );
      assert.equal(treeFds(root), 0);
    }
  });

  test('symbolic links: skipped by default; followed, a loop and a dangling link are reported, not fatal', async () => {
    const root = path.join(dir, 'links');
    mkdirSync(path.join(root, 'a', 'b'), { recursive: true });
    writeFile(path.join(root, 'a', 'b'), 'real.txt', Buffer.from('hello'));
    symlinkSync('..', path.join(root, 'a', 'b', 'up')); // a -> b -> up -> a: a loop
    symlinkSync('nowhere.txt', path.join(root, 'a', 'dangling.txt'));
    symlinkSync('self', path.join(root, 'self')); // ELOOP on stat
    symlinkSync(path.join('a', 'b', 'real.txt'), path.join(root, 'alias.txt'));

    const plain: string[] = [];
    const skipped = await scanTree(root, (file) => plain.push(file.relativePath));
    assert.deepEqual(plain, [path.join('a', 'b', 'real.txt')]);
    assert.equal(skipped.skippedSymlinks, 4);
    assert.deepEqual(skipped.problems, []);

    const followed: string[] = [];
    const reported: ScanProblem[] = [];
    const summary = await scanTree(root, (file) => followed.push(file.relativePath), {
      followSymlinks: true,
      onProblem: (problem) => reported.push(problem),
    });
    assert.deepEqual(followed.sort(), [path.join('a', 'b', 'real.txt'), 'alias.txt'].sort());
    assert.deepEqual(
      summary.problems.map((problem) => [problem.relativePath, problem.code]),
      [
        [path.join('a', 'b', 'up'), 'SLUICE_ERR_SYMLINK_LOOP'],
        [path.join('a', 'dangling.txt'), 'SLUICE_ERR_FILE_NOT_FOUND'],
        ['self', 'SLUICE_ERR_SYMLINK_LOOP'],
      ],
    );
    assert.equal(reported.length, 3);
    assert.match(summary.problems[0]!.error.message, /leads back to/);
  });

  test('a FIFO is reported as SLUICE_ERR_NOT_A_FILE and never opened (opening it would block)', async (t) => {
    const root = path.join(dir, 'fifo');
    mkdirSync(root);
    writeFile(root, 'ok.txt', Buffer.from('ok'));
    try {
      execFileSync('mkfifo', [path.join(root, 'pipe')]);
    } catch (error) {
      t.skip(`mkfifo is not available: ${(error as Error).message.split('\n')[0]}`);
      return;
    }
    const visited: string[] = [];
    const summary = await scanTree(root, (file) => visited.push(file.relativePath));
    assert.deepEqual(visited, ['ok.txt']);
    assert.deepEqual(
      summary.problems.map((problem) => [problem.relativePath, problem.code]),
      [['pipe', 'SLUICE_ERR_NOT_A_FILE']],
    );
  });

  test('unreadable directories and files are problems, not fatal (as an unprivileged user)', async (t) => {
    const root = path.join(dir, 'locked');
    mkdirSync(path.join(root, 'closed'), { recursive: true });
    writeFile(path.join(root, 'closed'), 'inside.txt', Buffer.from('hidden'));
    writeFile(root, 'open.txt', Buffer.from('visible'));
    writeFile(root, 'secret.txt', Buffer.from('secret'));
    chmodSync(path.join(root, 'closed'), 0o000);
    chmodSync(path.join(root, 'secret.txt'), 0o000);
    t.after(() => chmodSync(path.join(root, 'closed'), 0o755)); // so the cleanup can remove it
    if (process.getuid?.() !== 0) {
      const visited: string[] = [];
      const summary = await scanTree(root, (file) => visited.push(file.relativePath));
      assert.deepEqual(visited, ['open.txt']);
      assert.deepEqual(
        summary.problems.map((problem) => [problem.relativePath, problem.code]),
        [
          ['closed', 'SLUICE_ERR_FILE_PERMISSION'],
          ['secret.txt', 'SLUICE_ERR_FILE_PERMISSION'],
        ],
      );
      return;
    }
    // root reads anything: run the scan in a child as nobody (the same trick as reader.test.ts).
    for (const parent of [dir, root]) chmodSync(parent, 0o755);
    const moduleUrl = new URL('../../src/file/index.js', import.meta.url).href;
    const script = `import(${JSON.stringify(moduleUrl)}).then(async (m) => {
      const visited = [];
      const summary = await m.scanTree(${JSON.stringify(root)}, (file) => { visited.push(file.relativePath); });
      console.log(JSON.stringify({ visited, problems: summary.problems.map((p) => [p.relativePath, p.code]) }));
    }, (e) => console.log(JSON.stringify({ error: String(e) })))`;
    const child = runAsNobody(script);
    if ('why' in child) {
      t.skip(child.why);
      return;
    }
    const { output } = child;
    const result = JSON.parse(output) as { error?: string; visited: string[]; problems: string[][] };
    if (result.error !== undefined) {
      t.skip(
        `the child could not load sluice as nobody (${result.error}): the checkout is not world-readable`,
      );
      return;
    }
    assert.deepEqual(result.visited, ['open.txt']);
    assert.deepEqual(result.problems, [
      ['closed', 'SLUICE_ERR_FILE_PERMISSION'],
      ['secret.txt', 'SLUICE_ERR_FILE_PERMISSION'],
    ]);
  });

  test('filter skips entries and whole directories', async () => {
    const visited: string[] = [];
    const summary = await scanTree(path.join(dir, 'tree'), (file) => visited.push(file.path), {
      filter: (entry) =>
        !(entry.isDirectory && entry.relativePath === 'd0') && !entry.path.endsWith('f1.txt'),
    });
    assert.ok(summary.filtered >= 2);
    assert.ok(
      visited.every((file) => !file.includes(`${path.sep}d0${path.sep}`) && !file.endsWith('f1.txt')),
    );
    assert.ok(visited.length < expected.size);
  });

  test('abort stops the scan, closes every reader and rejects with SLUICE_ERR_ABORTED', async () => {
    const fdsBefore = openFds();
    const controller = new AbortController();
    let visits = 0;
    await assert.rejects(
      scanTree(
        path.join(dir, 'tree'),
        async (file) => {
          visits++;
          if (visits === 20) controller.abort();
          for await (const _window of file.reader) {
            // reading until the abort closes the reader
          }
        },
        { concurrency: 4, signal: controller.signal },
      ),
      code('SLUICE_ERR_ABORTED'),
    );
    assert.ok(visits < expected.size);
    assert.equal(openFds(), fdsBefore);
    assert.equal(windowsInUse(), 0);
    await assert.rejects(
      scanTree(path.join(dir, 'tree'), () => {}, { signal: AbortSignal.abort() }),
      code('SLUICE_ERR_ABORTED'),
    );
  });

  test('files read whole by a worker come in `contents`; a synchronous visitor needs no reader', async () => {
    const root = path.join(dir, 'tree');
    const kept: ScanFile[] = [];
    let whole = 0;
    const summary = await scanTree(root, (file) => {
      kept.push(file);
      const want = expected.get(file.path)!;
      if (file.contents === undefined) return readWhole(file).then((bytes) => assert.ok(want.equals(bytes)));
      whole++;
      assert.equal(file.contents.length, file.size);
      assert.ok(want.equals(file.contents), `wrong contents for ${file.path}`);
    });
    assert.equal(summary.files, expected.size);
    // every file of this tree is under 4 MiB: all read whole
    assert.equal(whole, expected.size);
    assert.ok(
      kept.every((file) => file.contents === undefined),
      'contents are gone once the visit settled',
    );
    await assert.rejects(kept[0]!.reader.next(), code('SLUICE_ERR_READER_CLOSED'));
    const viaReaders: Array<Buffer | undefined> = [];
    await scanTree(root, (file) => void viaReaders.push(file.contents), { workers: 0, concurrency: 4 });
    assert.ok(viaReaders.length === expected.size && viaReaders.every((contents) => contents === undefined));
  });

  test('a file that does not fit in the slab gets a buffer of its own, within a budget; past it, a reader', async () => {
    const root = path.join(dir, 'big');
    mkdirSync(root);
    const MiB = 1024 * 1024;
    const sizes: Record<string, number> = {
      'a.bin': 3 * MiB,
      'b.bin': 3 * MiB,
      'c.bin': 3 * MiB,
      'd.bin': 5 * MiB,
    };
    const bytes = new Map<string, Buffer>();
    for (const [name, size] of Object.entries(sizes)) {
      bytes.set(name, patternBytes(size, size + name.charCodeAt(0)));
      writeFile(root, name, bytes.get(name)!);
    }
    const fdsBefore = openFds();
    const how = new Map<string, string>();
    const summary = await scanTree(
      root,
      async (file) => {
        how.set(file.relativePath, file.contents === undefined ? file.reader.strategy : 'contents');
        const got = file.contents === undefined ? await readWhole(file) : file.contents;
        assert.ok(bytes.get(file.relativePath)!.equals(got), `wrong bytes for ${file.relativePath}`);
      },
      { concurrency: 1, workers: 1 },
    );
    assert.equal(summary.files, 4);
    // a: the 4 MiB slab; b: its own buffer (4 MiB budget); c: neither has room left; d: over 4 MiB
    assert.equal(how.get('a.bin'), 'contents');
    assert.equal(how.get('b.bin'), 'contents');
    assert.notEqual(how.get('c.bin'), 'contents');
    assert.notEqual(how.get('d.bin'), 'contents');
    assert.equal(openFds(), fdsBefore);
    assert.equal(windowsInUse(), 0);
  });

  test('contents kept past the visit read as 0xDE under SLUICE_DEBUG=1', async () => {
    const root = path.join(dir, 'debug');
    mkdirSync(root);
    writeFile(root, 'one.txt', patternBytes(1000, 1));
    writeFile(root, 'two.txt', patternBytes(2000, 2));
    const kept: Buffer[] = [];
    const before = process.env.SLUICE_DEBUG;
    process.env.SLUICE_DEBUG = '1';
    try {
      await scanTree(root, (file) => void kept.push(file.contents!));
    } finally {
      if (before === undefined) delete process.env.SLUICE_DEBUG;
      else process.env.SLUICE_DEBUG = before;
    }
    assert.deepEqual(
      kept.map((contents) => contents.length),
      [1000, 2000],
    );
    for (const contents of kept) assert.ok(contents.every((byte) => byte === 0xde));
  });

  test('a synchronous visitor that throws stops the scan; scanTree rejects with its error', async () => {
    const fdsBefore = openFds();
    const bug = new Error('sync visitor bug');
    let visits = 0;
    await assert.rejects(
      scanTree(
        path.join(dir, 'tree'),
        () => {
          if (++visits === 50) throw bug;
        },
        { concurrency: 2 },
      ),
      (error) => error === bug,
    );
    assert.equal(visits, 50, 'no visit after the one that threw');
    assert.equal(openFds(), fdsBefore);
  });

  describe('visits on the worker threads (ScanWorkerVisitor)', () => {
    const visitors = new URL('../helpers/scan-visitors.js', import.meta.url);
    const sha1 = (bytes: Buffer): string => createHash('sha1').update(bytes).digest('hex');

    for (const workers of [1, 3]) {
      test(`every file visited once where it was read; results in walk order (${workers} workers)`, async () => {
        const root = path.join(dir, 'tree');
        const fdsBefore = openFds();
        type Digest = { sha1: string; whole: boolean; statSize: number; ino: number };
        const results: Array<[string, Digest]> = [];
        const summary = await scanTree(
          root,
          {
            module: visitors,
            export: 'digest',
            onResult: (result, file) => {
              results.push([file.path, result as Digest]);
              assert.equal(file.relativePath, path.relative(root, file.path));
            },
          },
          { workers, concurrency: workers },
        );
        assert.equal(summary.files, expected.size);
        assert.equal(
          summary.bytes,
          [...expected.values()].reduce((sum, bytes) => sum + bytes.length, 0),
        );
        assert.deepEqual(summary.problems, []);
        assert.equal(results.length, expected.size);
        for (const [file, result] of results) {
          const want = expected.get(file)!;
          assert.equal(result.sha1, sha1(want), `wrong bytes for ${file}`);
          assert.equal(result.statSize, want.length);
          assert.equal(result.ino, statSync(file).ino, 'stats are the fstat of the file visited');
          assert.ok(result.whole);
        }
        // walk order: the order a main-thread visitor at concurrency 1 sees
        const order: string[] = [];
        await scanTree(root, (file) => void order.push(file.path), { concurrency: 1 });
        assert.deepEqual(
          results.map(([file]) => file),
          order,
        );
        assert.equal(openFds(), fdsBefore, 'every file closed, every thread gone');
      });
    }

    test('a file over 4 MiB comes in windows; a visit may return a promise; undefined sends nothing', async () => {
      const root = path.join(dir, 'worker-big');
      mkdirSync(root);
      const big = patternBytes(9 * 1024 * 1024 + 17, 91);
      const small = patternBytes(5000, 92);
      writeFile(root, 'big.bin', big);
      writeFile(root, 'small.bin', small);
      writeFile(root, 'empty.bin', Buffer.alloc(0));
      const seen = new Map<string, unknown>();
      await scanTree(root, {
        module: visitors,
        export: 'digest',
        onResult: (result, file) => void seen.set(file.relativePath, result),
      });
      const ino = (name: string): number => statSync(path.join(root, name)).ino;
      assert.deepEqual(seen.get('big.bin'), {
        sha1: sha1(big),
        whole: false,
        statSize: big.length,
        ino: ino('big.bin'),
      });
      assert.deepEqual(seen.get('empty.bin'), {
        sha1: sha1(Buffer.alloc(0)),
        whole: true,
        statSize: 0,
        ino: ino('empty.bin'),
      });
      const later: unknown[] = [];
      await scanTree(root, {
        module: visitors.href,
        export: 'digestLater',
        onResult: (r) => void later.push(r),
      });
      assert.deepEqual(later, [sha1(big), sha1(Buffer.alloc(0)), sha1(small)]);
      let calls = 0;
      const summary = await scanTree(root, {
        module: fileURLToPath(visitors),
        export: 'nothing',
        onResult: () => calls++,
      });
      assert.equal(summary.files, 3);
      assert.equal(calls, 0);
    });

    test("stats asked for after an await in the visit are still the file's own", async () => {
      const root = path.join(dir, 'tree');
      const seen = new Map<string, { ino: number; size: number; mode: number }>();
      const summary = await scanTree(
        root,
        {
          module: visitors,
          export: 'statsLater',
          onResult: (result, file) =>
            void seen.set(file.path, result as { ino: number; size: number; mode: number }),
        },
        { workers: 1 },
      );
      assert.equal(summary.files, expected.size);
      assert.equal(seen.size, expected.size);
      for (const [file, stats] of seen) {
        const real = statSync(file);
        assert.deepEqual(stats, { ino: real.ino, size: real.size, mode: real.mode }, file);
      }
    });

    test('stats are there during a visit; asked for after it, they throw', async () => {
      const late: unknown[] = [];
      const summary = await scanTree(
        path.join(dir, 'tree'),
        { module: visitors, export: 'statsAfterVisit', onResult: (result) => void late.push(result) },
        { workers: 1 },
      );
      assert.equal(summary.files, expected.size);
      assert.equal(late.length, expected.size - 1, 'every visit but the first looked at the one before');
      for (const message of late) assert.match(String(message), /asked for after its visit ended/);
    });

    test("the visitor's error rejects the scan as thrown (name, message, code); all is closed", async () => {
      const fdsBefore = openFds();
      await assert.rejects(
        scanTree(path.join(dir, 'tree'), { module: visitors, export: 'throwAt', data: 'f42.txt' }),
        (error: unknown) => {
          assert.ok(error instanceof RangeError);
          assert.equal(error.message, 'boom at f42.txt');
          assert.equal((error as { code?: unknown }).code, 'E_BOOM');
          return true;
        },
      );
      const bug = new Error('onResult bug');
      await assert.rejects(
        scanTree(path.join(dir, 'tree'), {
          module: visitors,
          export: 'digest',
          onResult: () => {
            throw bug;
          },
        }),
        (error) => error === bug,
      );
      await assert.rejects(
        scanTree(path.join(dir, 'tree'), { module: visitors, export: 'unclonable' }),
        (error: unknown) => error instanceof TypeError && /cannot be sent/.test(error.message),
      );
      assert.equal(openFds(), fdsBefore);
    });

    test('a worker thread dying rejects the scan with SLUICE_ERR_READ_WORKER (no hang)', async () => {
      const fdsBefore = openFds();
      await assert.rejects(
        scanTree(path.join(dir, 'tree'), { module: visitors, export: 'crash' }, { workers: 2 }),
        code('SLUICE_ERR_READ_WORKER'),
      );
      assert.equal(openFds(), fdsBefore);
    });

    test('an abort stops the threads after the file at hand: SLUICE_ERR_ABORTED, nothing left open', async () => {
      const fdsBefore = openFds();
      let results = 0;
      const controller = new AbortController();
      const started = performance.now();
      await assert.rejects(
        scanTree(
          path.join(dir, 'tree'),
          {
            module: visitors,
            export: 'digestLater', // about 1 ms a file: 300 files take over 150 ms on 2 threads
            onResult: () => {
              if (++results === 20) controller.abort();
            },
          },
          { workers: 2, signal: controller.signal },
        ),
        code('SLUICE_ERR_ABORTED'),
      );
      assert.ok(results < expected.size);
      assert.ok(performance.now() - started < 5000);
      assert.equal(openFds(), fdsBefore);
    });

    test('bad visitor modules and options reject with SLUICE_ERR_INVALID_ARGUMENT', async () => {
      const root = path.join(dir, 'tree');
      const invalid = code('SLUICE_ERR_INVALID_ARGUMENT');
      await assert.rejects(scanTree(root, { module: new URL('./missing.js', visitors) }), invalid);
      await assert.rejects(scanTree(root, { module: visitors, export: 'notAFunction' }), invalid);
      await assert.rejects(scanTree(root, { module: visitors, export: 'noSuchExport' }), invalid);
      await assert.rejects(scanTree(root, { module: 'relative/visitor.js' }), invalid);
      await assert.rejects(scanTree(root, { module: visitors, data: { f: () => 1 } }), invalid);
      await assert.rejects(scanTree(root, { module: visitors, onResult: 'no' as never }), invalid);
      await assert.rejects(scanTree(root, { module: visitors }, { workers: 0 }), invalid);
      await assert.rejects(scanTree(root, null as never), invalid);
    });
  });

  test('a visitor that throws stops the scan, and scanTree rejects with its error once all is closed', async () => {
    const fdsBefore = openFds();
    const bug = new Error('visitor bug');
    let visits = 0;
    await assert.rejects(
      scanTree(
        path.join(dir, 'tree'),
        async (file) => {
          const visit = ++visits;
          await file.reader.next();
          if (visit === 5) throw bug;
        },
        { concurrency: 8 },
      ),
      (error) => error === bug,
    );
    assert.equal(openFds(), fdsBefore);
    assert.equal(windowsInUse(), 0);
  });

  test('a bad root or bad options reject with coded errors', async () => {
    await assert.rejects(
      scanTree(path.join(dir, 'missing'), () => {}),
      code('SLUICE_ERR_FILE_NOT_FOUND'),
    );
    const file = writeFile(dir, 'plain.txt', Buffer.from('x'));
    await assert.rejects(
      scanTree(file, () => {}),
      code('SLUICE_ERR_NOT_A_DIRECTORY'),
    );
    await assert.rejects(
      scanTree(dir, () => {}, { concurrency: 0 }),
      code('SLUICE_ERR_INVALID_ARGUMENT'),
    );
    await assert.rejects(
      scanTree(dir, () => {}, { concurrency: 1.5 }),
      code('SLUICE_ERR_INVALID_ARGUMENT'),
    );
    await assert.rejects(scanTree(dir, 'nope' as never), code('SLUICE_ERR_INVALID_ARGUMENT'));
    await assert.rejects(
      scanTree('', () => {}),
      code('SLUICE_ERR_INVALID_ARGUMENT'),
    );
  });
});
