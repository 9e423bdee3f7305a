import assert from 'node:assert/strict';
import { type ChildProcessByStdio, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../http/helpers.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const run = promisify(execFile);

/** The URL `sluice serve` prints once it listens. */
function servingUrl(child: ChildProcessByStdio<null, Readable, Readable>): Promise<string> {
  let stdout = '';
  child.stdout.setEncoding('utf8');
  return new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
  });
}

test('sluice serve with no DIR generates the sample library, prints the URL, serves, and exits 0 on SIGTERM', async () => {
  const cache = tempDir('sluice-cache-');
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
    env: { ...process.env, XDG_CACHE_HOME: cache.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await servingUrl(child);
    const api = (await (await fetch(`${url}api/books`)).json()) as {
      books: { name: string; files: { href: string }[] }[];
    };
    assert.deepEqual(
      api.books.map((book) => book.name),
      ['Alice in Wonderland', 'Les Misérables', 'Война и мир'],
    );
    const file = await fetch(new URL(api.books[2]!.files[0]!.href, url));
    assert.equal(file.status, 200);
    assert.ok((await file.arrayBuffer()).byteLength > 100_000);
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited;
    assert.equal(code, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    cache.remove();
  }
});

test('sluice serve DIR --crc-cache FILE: the server thread serves ZIPs, keeps CRCs there, exits 0 on SIGINT', async () => {
  const library = tempDir('sluice-library-');
  mkdirSync(path.join(library.dir, 'Book'));
  writeFileSync(path.join(library.dir, 'Book', '01.mp3'), Buffer.alloc(300_000, 7));
  // an old mtime: files changed in the last 2 s are not cached (racily clean, see sluice/zip)
  utimesSync(path.join(library.dir, 'Book', '01.mp3'), 1_600_000_000, 1_600_000_000);
  const crcFile = path.join(library.dir, '.crc-cache');
  const child = spawn(process.execPath, [bin, 'serve', library.dir, '--port', '0', '--crc-cache', crcFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    const url = await servingUrl(child);
    const zip = await fetch(`${url}Book.zip`);
    assert.equal(zip.status, 200);
    const bytes = Buffer.from(await zip.arrayBuffer());
    assert.equal(bytes.length, Number(zip.headers.get('content-length')));
    assert.equal(bytes.readUInt32LE(0), 0x04034b50, 'a local file header first');
    const metrics = await (await fetch(`${url}metrics`)).text();
    assert.match(metrics, /^sluice_idle_collections_total \d+$/m);
    const exited = once(child, 'exit');
    child.kill('SIGINT');
    const [code] = await exited;
    assert.equal(code, 0);
    assert.ok(statSync(crcFile).size > 0, 'the CRC was kept in the given file');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    library.remove();
  }
});

test('sluice serve --help and bad options', async () => {
  const { stdout } = await run(process.execPath, [bin, 'serve', '--help']);
  assert.match(stdout, /Usage: sluice serve \[DIR\]/);
  await assert.rejects(
    run(process.execPath, [bin, 'serve', '--port', 'abc']),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 2);
      assert.match(error.stderr, /--port must be an integer/);
      return true;
    },
  );
  await assert.rejects(
    run(process.execPath, [bin, 'serve', '/nonexistent/library', '--port', '0']),
    (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /SLUICE_ERR_LIBRARY_ROOT/);
      return true;
    },
  );
});
