import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../http/helpers.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const run = promisify(execFile);

test('sluice serve with no DIR generates the sample library, prints the URL, serves, and exits 0 on SIGTERM', async () => {
  const cache = tempDir('sluice-cache-');
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0'], {
    env: { ...process.env, XDG_CACHE_HOME: cache.dir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  try {
    let stdout = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: string) => {
        stdout += chunk;
        const match = /at (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`exited early with ${code}`)));
    });
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
