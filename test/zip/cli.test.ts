import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { zipCommand } from '../../src/cli/commands/zip.js';
import { zipDirectory } from '../../src/zip/index.js';
import { temporaryDirectory, verifyArchive } from './helpers.js';

const run = promisify(execFile);
const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const OLD = Date.UTC(2018, 6, 1) / 1000;

async function library(dir: string): Promise<string> {
  const book = path.join(dir, 'Moby Dick');
  await mkdir(path.join(book, 'extras', 'empty'), { recursive: true });
  for (const [name, size] of [
    ['01.mp3', 200_000],
    ['02.mp3', 150_001],
    ['extras/cover.jpg', 5_000],
  ] as const) {
    const file = path.join(book, name);
    await writeFile(file, Buffer.alloc(size, name.length));
    await utimes(file, OLD, OLD);
  }
  return book;
}

test('sluice zip DIR -o FILE writes a verified archive, the same as -o -', async () => {
  await using tmp = await temporaryDirectory('cli');
  const book = await library(tmp.dir);
  const file = path.join(tmp.dir, 'moby.zip');
  const cache = path.join(tmp.dir, 'crc.txt');
  const { stderr } = await run(process.execPath, [bin, 'zip', book, '-o', file, '--crc-cache', cache]);
  assert.match(stderr, /^sluice zip: .*moby\.zip: 6 entries, /);
  assert.doesNotMatch(stderr, /\r/, 'no progress bar when stderr is not a terminal');
  await verifyArchive(file, await zipDirectory(book, { crcCache: false, prefix: 'Moby Dick' }));
  assert.ok((await readFile(cache, 'latin1')).split('\n').length > 3, 'the CRCs went to the cache');
  const piped = await run(process.execPath, [bin, 'zip', book, '-o', '-', '-q', '--crc-cache', cache], {
    encoding: 'buffer',
    maxBuffer: 16 << 20,
  });
  assert.ok(piped.stdout.equals(await readFile(file)), 'stdout gets the same bytes');
  assert.equal(piped.stderr.length, 0, '-q is quiet');
  const flat = path.join(tmp.dir, 'flat.zip');
  await run(process.execPath, [
    bin,
    'zip',
    book,
    '--flat',
    '--no-crc-cache',
    '-q',
    '-o',
    flat,
    '--comment',
    'hi',
  ]);
  await verifyArchive(flat, await zipDirectory(book, { crcCache: false }), { comment: 'hi' });
});

test('sluice zip fails cleanly: a coded error, exit 1, and no partial archive left', async () => {
  await using tmp = await temporaryDirectory('cli-errors');
  const book = await library(tmp.dir);
  const file = path.join(tmp.dir, 'out.zip');
  await assert.rejects(
    run(process.execPath, [bin, 'zip', book, path.join(tmp.dir, 'missing'), '-o', file]),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /no such file: .*missing \[SLUICE_ERR_FILE_NOT_FOUND\]/);
      return true;
    },
  );
  await assert.rejects(
    run(process.execPath, [bin, 'zip', book, book, '-o', file]),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /SLUICE_ERR_ZIP_DUPLICATE_NAME/);
      return true;
    },
  );
  assert.deepEqual((await readdir(tmp.dir)).sort(), ['Moby Dick'], 'no archive, no temporary file');
  for (const args of [
    ['zip', book],
    ['zip', '-o', file],
    ['zip', book, '-o', file, '--bogus'],
  ]) {
    await assert.rejects(run(process.execPath, [bin, ...args]), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2, args.join(' '));
      assert.match(error.stderr, /SLUICE_ERR_USAGE/);
      return true;
    });
  }
  const help = await run(process.execPath, [bin, 'zip', '--help']);
  assert.match(help.stdout, /^Usage: sluice zip DIR\.\.\. -o FILE\|-/);
  const top = await run(process.execPath, [bin, '--help']);
  assert.match(top.stdout, /zip\s+write a store-only ZIP/);
});

test('a progress bar is drawn in place on an interactive stderr for a large archive', async () => {
  await using tmp = await temporaryDirectory('cli-progress');
  const book = path.join(tmp.dir, 'big');
  await mkdir(book);
  const sparse = path.join(book, 'silence.mp3');
  await writeFile(sparse, '');
  await truncate(sparse, 70 * 1024 * 1024); // over the 64 MiB threshold, no disk space used
  await utimes(sparse, OLD, OLD);
  let stderr = '';
  const io = {
    stdout: new PassThrough(),
    stderr: new Writable({
      write(chunk: Buffer, _encoding, callback) {
        stderr += chunk.toString();
        callback();
      },
    }),
    interactive: true,
  };
  const file = path.join(tmp.dir, 'big.zip');
  assert.equal(await zipCommand.run([book, '-o', file, '--no-crc-cache'], io), 0);
  assert.match(stderr, /\r\[=+\s*\]\s+100% 70\.0 MiB \/ 70\.0 MiB/);
  assert.match(stderr, /\nsluice zip: .*big\.zip: 2 entries, 70\.0 MiB/);
  await verifyArchive(file, await zipDirectory(book, { crcCache: false, prefix: 'big' }), {
    readers: ['7zz'],
  });
});
